//! Run-time-sized local buffers, `let mut q = vec![0.0; n];`: reverse mode against closed forms
//! and finite differences, forward mode against reverse mode, and the allocations of both.
// Differentiated loops index their arrays: `for` runs over integer ranges here.
#![allow(clippy::needless_range_loop)]

use autodiff::num_traits::Float;
use autodiff::{check_gradient, differentiate};

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;
use common::{assert_all_close_to, differences, hv_by_differences};

/// Squares into a buffer of the input's length, then sums the sines of the squares:
/// ∂f/∂xᵢ = 2 xᵢ cos(xᵢ²) · s where s scales by `scale`.
#[differentiate(reverse, forward)]
fn squares(x: &[f64], scale: f64) -> f64 {
    let n = x.len();
    let mut q = vec![0.0; n];
    for i in 0..n {
        q[i] = scale * x[i] * x[i];
    }
    let mut s = 0.0;
    for i in 0..q.len() {
        s += q[i].sin();
    }
    s
}

/// A buffer whose length is a product of integer parameters, indexed by computed offsets, as a
/// flattened `d × k` matrix: f = Σⱼ (Σᵢ wᵢⱼ xᵢ)², with `w` row-major in `i`.
#[differentiate(reverse, forward)]
fn matvec_norm(w: &[f64], x: &[f64], d: usize, k: usize) -> f64 {
    let mut y = vec![0.0; d * k];
    for i in 0..d {
        for j in 0..k {
            y[i * k + j] = w[i * k + j] * x[i];
        }
    }
    let mut total = 0.0;
    for j in 0..k {
        let mut col = 0.0;
        for i in 0..d {
            col += y[i * k + j];
        }
        total += col * col;
    }
    total
}

/// A buffer declared inside a loop, whose length changes with each iteration:
/// f = Σₘ Σ_{j ≤ m} (xⱼ w)², so ∂f/∂xⱼ = 2 xⱼ w² (n − j) and ∂f/∂w = 2 w Σₘ Σ_{j ≤ m} xⱼ².
#[differentiate(reverse, forward)]
fn triangle(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for m in 0..x.len() {
        let mut t = vec![0.0; m + 1];
        for j in 0..=m {
            t[j] = x[j] * w;
        }
        for j in 0..t.len() {
            s += t[j] * t[j];
        }
    }
    s
}

/// A buffer filled with a computed value rather than a constant: every element carries its
/// derivative. f = n · (x₀ y)², so ∂f/∂x₀ = 2 n x₀ y², ∂f/∂y = 2 n x₀² y.
#[differentiate(reverse, forward)]
fn filled(x: &[f64], y: f64) -> f64 {
    let b = vec![x[0] * y; x.len()];
    let mut s = 0.0;
    for i in 0..b.len() {
        s += b[i] * b[i];
    }
    s
}

/// f = Σ sin(xᵢ²) with scale 1, at a point of any length.
fn squares_closed(x: &[f64], scale: f64) -> (Vec<f64>, f64) {
    let dx = x
        .iter()
        .map(|&v| 2.0 * scale * v * (scale * v * v).cos())
        .collect();
    let ds = x.iter().map(|&v| v * v * (scale * v * v).cos()).sum();
    (dx, ds)
}

/// A small count as a float.
fn real(n: usize) -> f64 {
    f64::from(u32::try_from(n).expect("a small count"))
}

fn assert_all_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

#[test]
fn a_buffer_of_the_input_length_differentiates() {
    for n in [0, 1, 3, 7] {
        let x: Vec<f64> = (0..n).map(|i| 0.3 * f64::from(i) - 0.4).collect();
        let (value, dx, ds) = squares_grad(&x, 1.3);
        assert_eq!(value, squares(&x, 1.3));
        let (want_dx, want_ds) = squares_closed(&x, 1.3);
        assert_all_close("dx", &dx, &want_dx);
        assert_all_close("ds", &[ds], &[want_ds]);
        let mut p = x.clone();
        p.push(1.3);
        let mut g = dx.clone();
        g.push(ds);
        check_gradient(|p| squares(&p[..p.len() - 1], p[p.len() - 1]), &p, &g).unwrap();
        // Forward mode, along each unit direction.
        for i in 0..=x.len() {
            let mut d_x = vec![0.0; x.len()];
            let mut d_s = 0.0;
            if i < x.len() {
                d_x[i] = 1.0;
            } else {
                d_s = 1.0;
            }
            let (v, t) = squares_jvp(&x, &d_x, 1.3, d_s);
            assert_eq!(v, value);
            assert_all_close("jvp", &[t], &[g[i]]);
        }
    }
}

#[test]
fn a_buffer_sized_by_integer_parameters_differentiates() {
    let (d, k) = (3, 2);
    let w: Vec<f64> = (0..d * k).map(|i| 0.25 * real(i) - 0.5).collect();
    let x = [0.7, -1.1, 0.4];
    let (value, dw, dx) = matvec_norm_grad(&w, &x, d, k);
    assert_eq!(value, matvec_norm(&w, &x, d, k));
    // Closed form: with cⱼ = Σᵢ wᵢⱼ xᵢ, ∂f/∂wᵢⱼ = 2 cⱼ xᵢ and ∂f/∂xᵢ = Σⱼ 2 cⱼ wᵢⱼ.
    let c: Vec<f64> = (0..k)
        .map(|j| (0..d).map(|i| w[i * k + j] * x[i]).sum())
        .collect();
    let mut want_dw = vec![0.0; d * k];
    let mut want_dx = vec![0.0; d];
    for i in 0..d {
        for j in 0..k {
            want_dw[i * k + j] = 2.0 * c[j] * x[i];
            want_dx[i] += 2.0 * c[j] * w[i * k + j];
        }
    }
    assert_all_close("dw", &dw, &want_dw);
    assert_all_close("dx", &dx, &want_dx);
    // Forward mode along a direction mixing both parameters.
    let d_w: Vec<f64> = (0..d * k).map(|i| 0.1 * real(i) - 0.2).collect();
    let d_x = [0.3, 0.2, -0.5];
    let (_, t) = matvec_norm_jvp(&w, &d_w, &x, &d_x, d, k);
    let want: f64 = dw.iter().zip(&d_w).map(|(a, b)| a * b).sum::<f64>()
        + dx.iter().zip(&d_x).map(|(a, b)| a * b).sum::<f64>();
    assert_all_close("jvp", &[t], &[want]);
}

#[test]
fn a_buffer_declared_in_a_loop_takes_each_iteration_length() {
    let x = [0.5, -1.25, 2.0, 0.75];
    let w = 0.8;
    let n = x.len();
    let (value, dx, dw) = triangle_grad(&x, w);
    assert_eq!(value, triangle(&x, w));
    let want_dx: Vec<f64> = (0..n).map(|j| 2.0 * x[j] * w * w * real(n - j)).collect();
    let want_dw: f64 = (0..n)
        .map(|m| (0..=m).map(|j| 2.0 * w * x[j] * x[j]).sum::<f64>())
        .sum();
    assert_all_close("dx", &dx, &want_dx);
    assert_all_close("dw", &[dw], &[want_dw]);
    let (_, t) = triangle_jvp(&x, &[0.0, 1.0, 0.0, 0.0], w, 0.0);
    assert_all_close("jvp", &[t], &[dx[1]]);
    let (_, t) = triangle_jvp(&x, &[0.0; 4], w, 1.0);
    assert_all_close("jvp", &[t], &[dw]);
}

#[test]
fn a_buffer_filled_with_a_computed_value_carries_its_derivative() {
    let x = [1.5, 0.2, -0.3];
    let y = -0.7;
    let (value, dx, dy) = filled_grad(&x, y);
    assert_eq!(value, filled(&x, y));
    let n = 3.0;
    assert_all_close("dx", &dx, &[2.0 * n * x[0] * y * y, 0.0, 0.0]);
    assert_all_close("dy", &[dy], &[2.0 * n * x[0] * x[0] * y]);
    let (_, t) = filled_jvp(&x, &[1.0, 0.0, 0.0], y, 0.5);
    assert_all_close("jvp", &[t], &[dx[0] + 0.5 * dy]);
}

/// Σ vᵢ², differentiated, called with a buffer below.
#[differentiate(reverse, forward)]
fn sqnorm(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s
}

/// A buffer passed to a differentiated callee, at the top level and inside a loop:
/// f = Σᵢ (xᵢ − μ)² + Σₘ Σ_{j ≤ m} (xⱼ μ)².
#[differentiate(reverse, forward)]
fn centred(x: &[f64], mu: f64) -> f64 {
    let mut c = vec![0.0; x.len()];
    for i in 0..c.len() {
        c[i] = x[i] - mu;
    }
    let mut s = sqnorm(&c);
    for m in 0..x.len() {
        let mut t = vec![0.0; m + 1];
        for j in 0..=m {
            t[j] = x[j] * mu;
        }
        s += sqnorm(&t);
    }
    s
}

#[test]
fn a_buffer_passed_to_a_differentiated_callee() {
    let x = [0.5, -1.25, 2.0, 0.75];
    let mu = 0.3;
    let n = x.len();
    let (value, dx, dmu) = centred_grad(&x, mu);
    assert_eq!(value, centred(&x, mu));
    let want_dx: Vec<f64> = (0..n)
        .map(|j| 2.0 * (x[j] - mu) + 2.0 * x[j] * mu * mu * real(n - j))
        .collect();
    let want_dmu: f64 = x.iter().map(|&v| -2.0 * (v - mu)).sum::<f64>()
        + (0..n)
            .map(|m| (0..=m).map(|j| 2.0 * mu * x[j] * x[j]).sum::<f64>())
            .sum::<f64>();
    assert_all_close("dx", &dx, &want_dx);
    assert_all_close("dmu", &[dmu], &[want_dmu]);
    let (v, t) = centred_jvp(&x, &[0.0, 0.0, 1.0, 0.0], mu, 0.0);
    assert_eq!(v, value);
    assert_all_close("jvp", &[t], &[dx[2]]);
    let (_, t) = centred_jvp(&x, &[0.0; 4], mu, 1.0);
    assert_all_close("jvp", &[t], &[dmu]);
}

/// The adjoint of a buffer is one allocation beside the buffer's own: at the top level in the
/// forward sweep, and for a buffer declared in a loop, one vector that each backward iteration
/// resizes in place.
#[test]
fn the_backward_sweep_allocates_one_adjoint_per_buffer() {
    use allocation_counter::measure;
    use std::hint::black_box;
    let x: Vec<f64> = (0..16).map(|i| 0.1 * f64::from(i) - 0.7).collect();
    let mut dx = vec![0.0; x.len()];
    let primal = measure(|| {
        black_box(squares(black_box(&x), 1.3));
    });
    assert_eq!(primal.count_total, 1);
    let reverse = measure(|| {
        black_box(squares_grad_into(black_box(&x), &mut dx, 1.3));
    });
    assert_eq!(reverse.count_total, primal.count_total + 1);
    let d_x = vec![0.5; x.len()];
    let forward = measure(|| {
        black_box(squares_jvp(black_box(&x), &d_x, 1.3, 0.0));
    });
    assert_eq!(forward.count_total, primal.count_total + 1);

    // One buffer per iteration in the primal, of lengths 1 to 16: the adjoint is one vector that
    // each iteration's backward code resizes in place. It reallocates only when a buffer is
    // longer than every one before, as a `Vec` grows: at most 1 + log₂ 16 times, not 16.
    let primal = measure(|| {
        black_box(ramp(black_box(&x), 0.8));
    });
    assert_eq!(primal.count_total, 16);
    let reverse = measure(|| {
        black_box(ramp_grad_into(black_box(&x), &mut dx, 0.8));
    });
    assert!(reverse.count_total > primal.count_total);
    assert!(
        reverse.count_total <= primal.count_total + 5,
        "{} allocations",
        reverse.count_total
    );
    let (value, dx, dw) = ramp_grad(&x, 0.8);
    assert_eq!(value, ramp(&x, 0.8));
    let n = x.len();
    let want_dx: Vec<f64> = (0..n).map(|j| 0.8 * real(n - j)).collect();
    let want_dw: f64 = (0..n).map(|j| x[j] * real(n - j)).sum();
    assert_all_close("dx", &dx, &want_dx);
    assert_all_close("dw", &[dw], &[want_dw]);
}

/// A buffer per iteration whose backward code needs no saved values: f = w Σₘ Σ_{j ≤ m} xⱼ.
#[differentiate(reverse, forward)]
fn ramp(x: &[f64], w: f64) -> f64 {
    let mut s = 0.0;
    for m in 0..x.len() {
        let mut t = vec![0.0; m + 1];
        for j in 0..=m {
            t[j] = x[j] * w;
        }
        for j in 0..t.len() {
            s += t[j];
        }
    }
    s
}

/// A helper that writes into a buffer: `out = a − b`.
#[differentiate(reverse, forward)]
fn subtract(a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] - b[i];
    }
}

/// A helper with a scalar input: `out = s · sin(x)`.
#[differentiate(reverse, forward)]
fn scale_sin(x: &[f64], s: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = s * x[i].sin();
    }
}

/// Helpers chained through local buffers inside a loop, as a mixture model's objective is
/// written: f = Σᵢ Σⱼ (w sin(xᵢⱼ − μⱼ))², with `x` holding `n` rows of length `d`.
#[differentiate(reverse, forward)]
fn chained(x: &[f64], mu: &[f64], w: f64) -> f64 {
    let d = mu.len();
    let n = x.len() / d;
    let mut row = vec![0.0; d];
    let mut centred = vec![0.0; d];
    let mut scaled = vec![0.0; d];
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..d {
            row[j] = x[i * d + j];
        }
        subtract(&row, mu, &mut centred);
        scale_sin(&centred, w, &mut scaled);
        for j in 0..d {
            total += scaled[j] * scaled[j];
        }
    }
    total
}

#[test]
fn a_helper_that_writes_a_buffer_has_a_vjp_and_a_jvp() {
    let a = [1.5, -0.5, 2.0];
    let b = [0.25, 0.75, -1.0];
    let mut out = [0.0; 3];
    subtract(&a, &b, &mut out);
    assert_eq!(out, [1.25, -1.25, 3.0]);
    // The seed is the adjoint of `out`; the vector-Jacobian product of a − b adds the seed into
    // `d_a` and subtracts it from `d_b`, and leaves zero in the seed buffer: `out` was
    // overwritten, so what it held before has no influence.
    let mut d_a = [1.0; 3];
    let mut d_b = [0.0; 3];
    let mut d_out = [0.5, -2.0, 3.0];
    let mut out = [9.0; 3];
    subtract_vjp_into(&a, &mut d_a, &b, &mut d_b, &mut out, &mut d_out);
    assert_eq!(out, [1.25, -1.25, 3.0]);
    assert_eq!(d_a, [1.5, -1.0, 4.0]);
    assert_eq!(d_b, [-0.5, 2.0, -3.0]);
    assert_eq!(d_out, [0.0; 3]);
    // Forward mode writes the tangent of `out`.
    let mut d_out = [0.0; 3];
    subtract_jvp(
        &a,
        &[1.0, 2.0, 3.0],
        &b,
        &[0.5, 0.5, 0.5],
        &mut out,
        &mut d_out,
    );
    assert_eq!(d_out, [0.5, 1.5, 2.5]);

    // A scalar input's gradient is returned: Σᵢ seedᵢ sin(xᵢ).
    let seed = [0.3, -0.7, 1.1];
    let mut d_out = seed;
    let mut d_x = [0.0; 3];
    let (d_s,) = scale_sin_vjp_into(&a, &mut d_x, 2.0, &mut out, &mut d_out);
    let want: f64 = a.iter().zip(&seed).map(|(x, s)| s * x.sin()).sum();
    assert_all_close("d_s", &[d_s], &[want]);
    let want_dx: Vec<f64> = a
        .iter()
        .zip(&seed)
        .map(|(x, s)| s * 2.0 * x.cos())
        .collect();
    assert_all_close("d_x", &d_x, &want_dx);
}

#[test]
fn helpers_that_write_buffers_compose_in_reverse_and_forward_mode() {
    let mu = [0.3, -0.2, 0.9];
    let x = [0.5, -1.25, 2.0, 0.75, 0.1, -0.4];
    let w = 1.7;
    let (value, dx, dmu, dw) = chained_grad(&x, &mu, w);
    assert_eq!(value, chained(&x, &mu, w));
    let d = mu.len();
    let mut want_dx = vec![0.0; x.len()];
    let mut want_dmu = vec![0.0; d];
    let mut want_dw = 0.0;
    for i in 0..x.len() / d {
        for j in 0..d {
            let c = x[i * d + j] - mu[j];
            want_dx[i * d + j] = 2.0 * w * w * c.sin() * c.cos();
            want_dmu[j] -= 2.0 * w * w * c.sin() * c.cos();
            want_dw += 2.0 * w * c.sin() * c.sin();
        }
    }
    assert_all_close("dx", &dx, &want_dx);
    assert_all_close("dmu", &dmu, &want_dmu);
    assert_all_close("dw", &[dw], &[want_dw]);
    let mut p: Vec<f64> = x.to_vec();
    p.extend(mu);
    p.push(w);
    let mut g = dx.clone();
    g.extend(&dmu);
    g.push(dw);
    check_gradient(|p| chained(&p[..6], &p[6..9], p[9]), &p, &g).unwrap();
    // Forward mode along a direction that moves every input.
    let d_x = [0.1, 0.2, -0.3, 0.4, -0.5, 0.6];
    let d_mu = [0.7, -0.8, 0.9];
    let (v, t) = chained_jvp(&x, &d_x, &mu, &d_mu, w, -0.25);
    assert_eq!(v, value);
    let want: f64 = g
        .iter()
        .zip(d_x.iter().chain(&d_mu).chain(&[-0.25]))
        .map(|(a, b)| a * b)
        .sum();
    assert_all_close("jvp", &[t], &[want]);
}

/// `out = exp(log_q) ⊙ v`: the diagonal of a mixture component's precision times a vector.
#[differentiate(reverse, forward)]
fn scale_by_exp(log_q: &[f64], v: &[f64], out: &mut [f64]) {
    for j in 0..out.len() {
        out[j] = log_q[j].exp() * v[j];
    }
}

/// A Gaussian mixture's negative log-likelihood with diagonal precisions, written as the
/// published C++ objective is, with run-time-sized temporaries and helpers that write into them:
/// Σᵢ logsumexpₖ(αₖ + Σⱼ qₖⱼ − ½ ‖exp(qₖ) ⊙ (xᵢ − μₖ)‖²) − n logsumexp(α).
#[differentiate(reverse, forward, wrt(alphas, means, log_q))]
#[allow(clippy::cast_precision_loss)]
fn gmm(alphas: &[f64], means: &[f64], log_q: &[f64], x: &[f64], d: usize) -> f64 {
    let k = alphas.len();
    let n = x.len() / d;
    let mut xi = vec![0.0; d];
    let mut mu = vec![0.0; d];
    let mut q = vec![0.0; d];
    let mut centred = vec![0.0; d];
    let mut scaled = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut sum_q = vec![0.0; k];
    for c in 0..k {
        for j in 0..d {
            sum_q[c] += log_q[c * d + j];
        }
    }
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..d {
            xi[j] = x[i * d + j];
        }
        for c in 0..k {
            for j in 0..d {
                mu[j] = means[c * d + j];
                q[j] = log_q[c * d + j];
            }
            subtract(&xi, &mu, &mut centred);
            scale_by_exp(&q, &centred, &mut scaled);
            let mut norm = 0.0;
            for j in 0..d {
                norm += scaled[j] * scaled[j];
            }
            main_term[c] = alphas[c] + sum_q[c] - 0.5 * norm;
        }
        let mut top = main_term[0];
        for c in 1..k {
            top = top.max(main_term[c]);
        }
        let mut s = 0.0;
        for c in 0..k {
            s += (main_term[c] - top).exp();
        }
        total += s.ln() + top;
    }
    let mut top = alphas[0];
    for c in 1..k {
        top = top.max(alphas[c]);
    }
    let mut s = 0.0;
    for c in 0..k {
        s += (alphas[c] - top).exp();
    }
    n as f64 * (s.ln() + top) - total
}

#[test]
fn a_mixture_objective_with_buffers_and_helpers_differentiates() {
    let d = 3;
    let alphas = [0.2, -0.4];
    let means = [0.1, 0.5, -0.3, 1.0, -0.2, 0.4];
    let log_q = [0.1, -0.2, 0.3, 0.05, 0.2, -0.1];
    let x = [
        0.3, 0.1, -0.5, 1.2, -0.4, 0.6, 0.0, 0.9, 0.2, -1.0, 0.3, 0.8,
    ];
    let (value, d_alphas, d_means, d_log_q) = gmm_grad(&alphas, &means, &log_q, &x, d);
    assert_eq!(value, gmm(&alphas, &means, &log_q, &x, d));
    let mut p: Vec<f64> = alphas.to_vec();
    p.extend(means);
    p.extend(log_q);
    let mut g = d_alphas.clone();
    g.extend(&d_means);
    g.extend(&d_log_q);
    check_gradient(|p| gmm(&p[..2], &p[2..8], &p[8..14], &x, d), &p, &g).unwrap();
    // Forward mode along a direction through every parameter.
    let dir: Vec<f64> = (0..14).map(|i| 0.1 * real(i) - 0.6).collect();
    let (v, t) = gmm_jvp(
        &alphas,
        &dir[..2],
        &means,
        &dir[2..8],
        &log_q,
        &dir[8..14],
        &x,
        d,
    );
    assert_eq!(v, value);
    let want: f64 = g.iter().zip(&dir).map(|(a, b)| a * b).sum();
    assert!(
        (t - want).abs() <= 1e-12 * want.abs().max(1.0),
        "jvp {t} vs {want}"
    );
}

/// The same mixture with parts of the parameters passed to the helpers, as the published
/// objective passes `&x[i * d]`: `&x[i * d..(i + 1) * d]`, a name bound to a part, and a part of
/// a buffer the loop overwrites (saved for each call).
#[differentiate(reverse, forward, wrt(alphas, means, log_q))]
#[allow(clippy::cast_precision_loss)]
fn gmm_parts(alphas: &[f64], means: &[f64], log_q: &[f64], x: &[f64], d: usize) -> f64 {
    let k = alphas.len();
    let n = x.len() / d;
    let mut centred = vec![0.0; d];
    let mut scaled = vec![0.0; d];
    let mut main_term = vec![0.0; k];
    let mut total = 0.0;
    for i in 0..n {
        for c in 0..k {
            let q = &log_q[c * d..(c + 1) * d];
            subtract(
                &x[i * d..(i + 1) * d],
                &means[c * d..(c + 1) * d],
                &mut centred,
            );
            scale_by_exp(q, &centred[0..d], &mut scaled);
            let mut norm = 0.0;
            let mut sum_q = 0.0;
            for j in 0..d {
                norm += scaled[j] * scaled[j];
                sum_q += q[j];
            }
            main_term[c] = alphas[c] + sum_q - 0.5 * norm;
        }
        let mut top = main_term[0];
        for c in 1..k {
            top = top.max(main_term[c]);
        }
        let mut s = 0.0;
        for c in 0..k {
            s += (main_term[c] - top).exp();
        }
        total += s.ln() + top;
    }
    let mut top = alphas[0];
    for c in 1..k {
        top = top.max(alphas[c]);
    }
    let mut s = 0.0;
    for c in 0..k {
        s += (alphas[c] - top).exp();
    }
    n as f64 * (s.ln() + top) - total
}

#[test]
fn parts_of_arrays_passed_to_helpers_that_write_buffers() {
    let d = 3;
    let alphas = [0.2, -0.4];
    let means = [0.1, 0.5, -0.3, 1.0, -0.2, 0.4];
    let log_q = [0.1, -0.2, 0.3, 0.05, 0.2, -0.1];
    let x = [
        0.3, 0.1, -0.5, 1.2, -0.4, 0.6, 0.0, 0.9, 0.2, -1.0, 0.3, 0.8,
    ];
    // The objective is `gmm`'s, in another form: the same value, the same gradient, and
    // finite differences and forward mode as oracles.
    let (value, d_alphas, d_means, d_log_q) = gmm_parts_grad(&alphas, &means, &log_q, &x, d);
    assert_eq!(value, gmm_parts(&alphas, &means, &log_q, &x, d));
    let (copied, c_alphas, c_means, c_log_q) = gmm_grad(&alphas, &means, &log_q, &x, d);
    assert!((value - copied).abs() <= 1e-12 * copied.abs());
    for (a, b) in [
        (&d_alphas, &c_alphas),
        (&d_means, &c_means),
        (&d_log_q, &c_log_q),
    ] {
        assert_all_close("parts against copies", a, b);
    }
    let mut p: Vec<f64> = alphas.to_vec();
    p.extend(means);
    p.extend(log_q);
    let mut g = d_alphas.clone();
    g.extend(&d_means);
    g.extend(&d_log_q);
    check_gradient(|p| gmm_parts(&p[..2], &p[2..8], &p[8..14], &x, d), &p, &g).unwrap();
    let dir: Vec<f64> = (0..14).map(|i| 0.1 * real(i) - 0.6).collect();
    let (v, t) = gmm_parts_jvp(
        &alphas,
        &dir[..2],
        &means,
        &dir[2..8],
        &log_q,
        &dir[8..14],
        &x,
        d,
    );
    assert_eq!(v, value);
    let want: f64 = g.iter().zip(&dir).map(|(a, b)| a * b).sum();
    assert!(
        (t - want).abs() <= 1e-12 * want.abs().max(1.0),
        "jvp {t} vs {want}"
    );
}

/// A helper that scales its buffer in place, reading it.
#[differentiate(reverse, forward)]
fn scale_in(w: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] *= w[i];
    }
}

/// Parts of a local array written by calls: `h[0..2]` scaled by `w[2..4]`, `h[2..4]` by
/// `w[0..2]`.
#[differentiate(reverse, forward)]
fn halves(w: &[f64]) -> f64 {
    let mut h = [1.0; 4];
    for i in 0..4 {
        h[i] = w[i] + 0.5;
    }
    scale_in(&w[2..4], &mut h[0..2]);
    scale_in(&w[0..2], &mut h[2..4]);
    h[0] * h[3] + h[1] * h[2]
}

/// Part of an out-parameter written by a call.
#[differentiate(reverse, forward)]
fn write_tail(w: &[f64], out: &mut [f64]) {
    scale_in(w, &mut out[2..4]);
}

#[differentiate(reverse, forward)]
fn uses_tail(w: &[f64]) -> f64 {
    let mut o = vec![2.0; 4];
    write_tail(&w[0..2], &mut o);
    o[0] * o[2] + o[3] * o[3]
}

#[test]
fn parts_of_buffers_written_by_calls() {
    let w = [0.3, -0.7, 1.1, 0.4];
    let (value, d_w) = halves_grad(&w);
    assert_eq!(value, halves(&w));
    // h = ((w₀ + ½) w₂, (w₁ + ½) w₃, (w₂ + ½) w₀, (w₃ + ½) w₁), f = h₀ h₃ + h₁ h₂.
    let h = [
        (w[0] + 0.5) * w[2],
        (w[1] + 0.5) * w[3],
        (w[2] + 0.5) * w[0],
        (w[3] + 0.5) * w[1],
    ];
    assert!((value - (h[0] * h[3] + h[1] * h[2])).abs() < 1e-14);
    let want = [
        h[3] * w[2] + h[1] * (w[2] + 0.5),
        h[2] * w[3] + h[0] * (w[3] + 0.5),
        h[3] * (w[0] + 0.5) + h[1] * w[0],
        h[2] * (w[1] + 0.5) + h[0] * w[1],
    ];
    assert_all_close("halves", &d_w, &want);
    let dir = [0.2, -0.1, 0.5, 0.3];
    let (_, t) = halves_jvp(&w, &dir);
    let jv: f64 = want.iter().zip(&dir).map(|(a, b)| a * b).sum();
    assert!((t - jv).abs() < 1e-12);

    // o = (2, 2, 2 w₀, 2 w₁): f = 4 w₀ + 4 w₁².
    let (value, d_w) = uses_tail_grad(&w);
    assert!((value - (4.0 * w[0] + 4.0 * w[1] * w[1])).abs() < 1e-14);
    assert_all_close("uses_tail", &d_w, &[4.0, 8.0 * w[1], 0.0, 0.0]);
    let (_, t) = uses_tail_jvp(&w, &dir);
    assert!((t - (4.0 * dir[0] + 8.0 * w[1] * dir[1])).abs() < 1e-12);
}

/// A helper that writes two buffers, reading the first: `a ⊙= w`, `b = a ⊙ w + b`.
#[differentiate(reverse, forward)]
fn scale_two(w: &[f64], a: &mut [f64], b: &mut [f64]) {
    for i in 0..a.len() {
        a[i] *= w[i];
        b[i] += a[i] * w[i];
    }
}

/// Calls that write two buffers: in a loop, one buffer a part of a local, one buffer read only
/// by the next call.
#[differentiate(reverse, forward)]
fn two_buffers(w: &[f64], x: f64) -> f64 {
    let mut a = vec![x; 2];
    let mut b = [0.5; 4];
    for _ in 0..2 {
        scale_two(w, &mut a, &mut b[1..3]);
    }
    let mut c = vec![1.0; 2];
    let mut unused = vec![0.0; 2];
    scale_two(&b[0..2], &mut c, &mut unused);
    a[0] * b[1] + a[1] * b[2] + c[1] * x
}

#[test]
fn calls_that_write_two_buffers() {
    let w = [0.7, -1.3];
    let x = 0.9;
    let (value, d_w, d_x) = two_buffers_grad(&w, x);
    assert_eq!(value, two_buffers(&w, x));
    // After two calls: a = x w², b[1 + i] = ½ + x w_i² + x w_i³; c = (1, b[1]).
    let (a, b1, b2) = (
        [x * w[0] * w[0], x * w[1] * w[1]],
        0.5 + x * w[0] * w[0] + x * w[0] * w[0] * w[0],
        0.5 + x * w[1] * w[1] + x * w[1] * w[1] * w[1],
    );
    let closed = a[0] * b1 + a[1] * b2 + b1 * x;
    assert!(
        (value - closed).abs() <= 1e-14 * closed.abs().max(1.0),
        "{value} vs {closed}"
    );
    let mut p = w.to_vec();
    p.push(x);
    let mut g = d_w.clone();
    g.push(d_x);
    check_gradient(|p| two_buffers(&p[..2], p[2]), &p, &g).unwrap();
    // ∂/∂x by hand: every term is x times a constant, twice over in a·b.
    let want_x = 2.0 * (a[0] * (b1 - 0.5) + a[1] * (b2 - 0.5)) / x
        + a[0] * 0.5 / x
        + a[1] * 0.5 / x
        + (b1 - 0.5)
        + b1;
    assert!(
        (d_x - want_x).abs() <= 1e-12 * want_x.abs(),
        "{d_x} vs {want_x}"
    );
    let (_, t) = two_buffers_jvp(&w, &[0.4, -0.2], x, 0.3);
    let want = 0.4 * d_w[0] - 0.2 * d_w[1] + 0.3 * d_x;
    assert!(
        (t - want).abs() <= 1e-12 * want.abs().max(1.0),
        "{t} vs {want}"
    );
}

/// A buffer declared after a loop whose backward code runs inside it.
#[differentiate(reverse, forward)]
fn after_fused(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    let mut q = vec![0.0; x.len()];
    q[0] = s;
    q[1] = s * s;
    q[0] + q[1].sin()
}

#[differentiate(reverse, forward)]
fn in_branch(x: &[f64], c: f64) -> f64 {
    let mut s = c;
    if c > 0.0 {
        let mut q = vec![0.0; x.len()];
        for i in 0..x.len() {
            q[i] = x[i] * c;
        }
        for i in 0..q.len() {
            s += q[i] * q[i];
        }
    }
    s
}

#[differentiate(reverse, forward)]
fn in_while(x: &[f64]) -> f64 {
    let mut s = 0.0;
    let mut k = 0;
    while k < x.len() {
        let mut q = vec![0.0; k + 1];
        for j in 0..=k {
            q[j] = (x[j] * s).sin() + x[j];
        }
        for j in 0..q.len() {
            s += q[j] * 0.5;
        }
        k += 1;
    }
    s
}

#[differentiate(reverse, forward)]
fn generic_buffer<T: Float>(x: &[T]) -> T {
    let mut q = vec![T::zero(); x.len()];
    for i in 0..x.len() {
        q[i] = x[i].sin() * x[i];
    }
    let mut s = T::zero();
    for i in 0..q.len() {
        s = s + q[i] * q[i];
    }
    s
}

#[differentiate(reverse, forward)]
fn twice(a: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = 2.0 * a[i] * a[i];
    }
}

#[differentiate(reverse, forward)]
fn helper_in_branch(x: &[f64], c: f64) -> f64 {
    let mut t = vec![0.0; x.len()];
    let mut u = vec![0.0; x.len()];
    for i in 0..x.len() {
        t[i] = x[i] * c;
    }
    if c > 0.0 {
        twice(&t, &mut u);
    } else {
        twice(x, &mut u);
    }
    let mut s = 0.0;
    for i in 0..u.len() {
        s += u[i] * t[i];
    }
    s
}

fn fd_check(f: impl Fn(&[f64]) -> f64, p: &[f64], g: &[f64]) {
    check_gradient(f, p, g).unwrap();
}

/// Buffers after a fused loop, in a branch, in a `while` loop, in a generic function, and a
/// helper called in a branch: finite differences and forward mode.
#[test]
fn buffers_in_every_position() {
    let x = [0.3, -0.7, 1.1];
    let (_, g) = after_fused_grad(&x);
    fd_check(after_fused, &x, &g);
    let (_, t) = after_fused_jvp(&x, &[1.0, 0.0, 0.0]);
    assert!((t - g[0]).abs() < 1e-12);
    for c in [0.8, -0.5] {
        let (_, g, gc) = in_branch_grad(&x, c);
        let mut gg = g.clone();
        gg.push(gc);
        fd_check(|p| in_branch(&p[..3], p[3]), &[x[0], x[1], x[2], c], &gg);
        let (_, g, gc) = helper_in_branch_grad(&x, c);
        let mut gg = g.clone();
        gg.push(gc);
        fd_check(
            |p| helper_in_branch(&p[..3], p[3]),
            &[x[0], x[1], x[2], c],
            &gg,
        );
        let (_, t) = helper_in_branch_jvp(&x, &[0.0, 1.0, 0.0], c, 0.5);
        assert!((t - (g[1] + 0.5 * gc)).abs() < 1e-12, "{t}");
    }
    let (_, g) = in_while_grad(&x);
    fd_check(in_while, &x, &g);
    let (_, t) = in_while_jvp(&x, &[0.0, 0.0, 1.0]);
    assert!((t - g[2]).abs() < 1e-12);
    let (_, g) = generic_buffer_grad(&x);
    fd_check(generic_buffer, &x, &g);
    let (_, t) = generic_buffer_jvp(&x, &[0.0, 1.0, 0.0]);
    assert!((t - g[1]).abs() < 1e-12);
}

/// A helper that reads its out-parameter before writing it: `out ← out ⊙ x`.
#[differentiate(reverse, forward)]
fn scale_in_place(x: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] *= x[i];
    }
}

/// `out ← out + a x²`, elementwise: a helper that accumulates into its buffer.
#[differentiate(reverse, forward)]
fn accumulate(x: &[f64], a: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] += a * x[i] * x[i];
    }
}

/// The helper applied twice to its own out-parameter, passed on as `out` and as `&mut *out`:
/// `out ← out ⊙ x ⊙ x`.
#[differentiate(reverse, forward)]
fn scale_twice(x: &[f64], out: &mut [f64]) {
    scale_in_place(x, out);
    scale_in_place(x, &mut *out);
}

/// f = (x₀ + ½) x₀ + x₁: the buffer's contents before the call reach the result through it.
#[differentiate(reverse, forward)]
fn reads_buffer(x: &[f64]) -> f64 {
    let mut o = vec![1.0; x.len()];
    o[0] = x[0] + 0.5;
    scale_in_place(x, &mut o);
    o[0] + o[1]
}

/// The same with a local array as the buffer.
#[differentiate(reverse, forward)]
fn reads_array(x: &[f64]) -> f64 {
    let mut o = [1.0; 3];
    o[0] = x[0] + 0.5;
    scale_in_place(x, &mut o);
    o[0] + o[1]
}

/// Twice in a row: f = Σ xᵢ⁴.
#[differentiate(reverse, forward)]
fn fourth_powers(x: &[f64]) -> f64 {
    let mut o = vec![0.0; x.len()];
    for i in 0..x.len() {
        o[i] = x[i] * x[i];
    }
    scale_in_place(x, &mut o);
    scale_in_place(x, &mut o);
    let mut s = 0.0;
    for i in 0..o.len() {
        s += o[i];
    }
    s
}

/// In a loop: f = Σ (i + 1)(xᵢ + 1) xᵢ³.
#[differentiate(reverse, forward)]
fn in_a_loop(x: &[f64]) -> f64 {
    let mut o = vec![0.0; x.len()];
    for i in 0..x.len() {
        o[i] = x[i] + 1.0;
    }
    for _ in 0..3 {
        scale_in_place(x, &mut o);
    }
    let mut s = 0.0;
    for i in 0..o.len() {
        s += real(i + 1) * o[i];
    }
    s
}

/// A partial write between two calls: f = 2x₀² + 2x₀x₁² + 2x₂².
#[differentiate(reverse, forward)]
fn partly_written(x: &[f64]) -> f64 {
    let mut o = [2.0; 3];
    scale_in_place(x, &mut o);
    o[1] *= x[0];
    scale_in_place(x, &mut o);
    o[0] + o[1] + o[2]
}

/// Rows accumulated into one buffer: with `x` holding rows of length 2, `accⱼ = a Σᵣ xᵣⱼ²` and
/// f = Σⱼ accⱼ².
#[differentiate(reverse, forward)]
fn accumulated(x: &[f64], a: f64) -> f64 {
    let d = 2;
    let mut acc = vec![0.0; d];
    let mut row = vec![0.0; d];
    for r in 0..x.len() / d {
        for j in 0..d {
            row[j] = x[r * d + j];
        }
        accumulate(&row, a, &mut acc);
    }
    let mut s = 0.0;
    for j in 0..d {
        s += acc[j] * acc[j];
    }
    s
}

/// Through a helper that passes its out-parameter on: f = Σ (xᵢ + 1) xᵢ².
#[differentiate(reverse, forward)]
fn passed_on(x: &[f64]) -> f64 {
    let mut o = vec![0.0; x.len()];
    for i in 0..x.len() {
        o[i] = x[i] + 1.0;
    }
    scale_twice(x, &mut o);
    let mut s = 0.0;
    for i in 0..o.len() {
        s += o[i];
    }
    s
}

/// Checks a gradient against its closed form and finite differences, and `f_jvp` along a
/// direction that moves every input against it.
fn check_buffer_case(
    what: &str,
    f: impl Fn(&[f64]) -> f64,
    p: &[f64],
    grad: &[f64],
    want: &[f64],
    jvp: impl Fn(&[f64]) -> f64,
) {
    assert_all_close(what, grad, want);
    fd_check(f, p, grad);
    let dir: Vec<f64> = (0..p.len())
        .map(|i| 0.3 - 0.45 * real(i) + 0.1 * real(i * i))
        .collect();
    let want: f64 = grad.iter().zip(&dir).map(|(g, d)| g * d).sum();
    assert_all_close(&format!("{what} jvp"), &[jvp(&dir)], &[want]);
}

/// A helper's `g_vjp_into` is called with what its buffer held before the call, which it may
/// read: before the call, after a partial write, twice in a row, in a loop, accumulating, and
/// passed on as an out-parameter.
#[test]
fn a_helper_reads_its_buffer_as_it_was_before_the_call() {
    let x = [0.3, -0.7, 1.1];
    let want = [2.0 * x[0] + 0.5, 1.0, 0.0];
    check_buffer_case(
        "reads_buffer",
        reads_buffer,
        &x,
        &reads_buffer_grad(&x).1,
        &want,
        |d| reads_buffer_jvp(&x, d).1,
    );
    check_buffer_case(
        "reads_array",
        reads_array,
        &x,
        &reads_array_grad(&x).1,
        &want,
        |d| reads_array_jvp(&x, d).1,
    );
    let want: Vec<f64> = x.iter().map(|v| 4.0 * v.powi(3)).collect();
    check_buffer_case(
        "fourth_powers",
        fourth_powers,
        &x,
        &fourth_powers_grad(&x).1,
        &want,
        |d| fourth_powers_jvp(&x, d).1,
    );
    let want: Vec<f64> = (0..3)
        .map(|i| real(i + 1) * (4.0 * x[i].powi(3) + 3.0 * x[i] * x[i]))
        .collect();
    check_buffer_case(
        "in_a_loop",
        in_a_loop,
        &x,
        &in_a_loop_grad(&x).1,
        &want,
        |d| in_a_loop_jvp(&x, d).1,
    );
    let want = [
        4.0 * x[0] + 2.0 * x[1] * x[1],
        4.0 * x[0] * x[1],
        4.0 * x[2],
    ];
    check_buffer_case(
        "partly_written",
        partly_written,
        &x,
        &partly_written_grad(&x).1,
        &want,
        |d| partly_written_jvp(&x, d).1,
    );
    let want: Vec<f64> = x.iter().map(|v| 3.0 * v * v + 2.0 * v).collect();
    check_buffer_case(
        "passed_on",
        passed_on,
        &x,
        &passed_on_grad(&x).1,
        &want,
        |d| passed_on_jvp(&x, d).1,
    );

    // Two rows of two.
    let (x, a) = ([0.3, -0.7, 1.1, 0.4], 0.9);
    let sums = [x[0] * x[0] + x[2] * x[2], x[1] * x[1] + x[3] * x[3]];
    let acc = [a * sums[0], a * sums[1]];
    let mut want: Vec<f64> = (0..4).map(|k| 4.0 * a * acc[k % 2] * x[k]).collect();
    want.push(2.0 * (acc[0] * sums[0] + acc[1] * sums[1]));
    let (_, mut grad, d_a) = accumulated_grad(&x, a);
    grad.push(d_a);
    let p = [x[0], x[1], x[2], x[3], a];
    check_buffer_case(
        "accumulated",
        |p| accumulated(&p[..4], p[4]),
        &p,
        &grad,
        &want,
        |d| accumulated_jvp(&x, &d[..4], a, d[4]).1,
    );
}

/// `out ← out + s x`, returning s²: a helper that also returns a float.
#[differentiate(reverse, forward)]
fn add_scaled(x: &[f64], s: f64, out: &mut [f64]) -> f64 {
    for i in 0..out.len() {
        out[i] += s * x[i];
    }
    s * s
}

/// f = (1 + s x₀)(1 + s x₁): the helper's value is dropped, so its seed is zero.
#[differentiate(reverse, forward, graph)]
fn drops_value(x: &[f64], s: f64) -> f64 {
    let mut o = vec![1.0; x.len()];
    add_scaled(x, s, &mut o);
    o[0] * o[1]
}

#[test]
fn a_helper_that_also_returns_a_float_is_called_as_a_statement() {
    let (x, s) = ([0.3, -0.7, 1.1], 0.4);
    let (u, v) = (1.0 + s * x[0], 1.0 + s * x[1]);
    let want = [s * v, s * u, 0.0, x[0] * v + x[1] * u];
    let (value, mut grad, d_s) = drops_value_grad(&x, s);
    assert_eq!(value, drops_value(&x, s));
    grad.push(d_s);
    check_buffer_case(
        "drops_value",
        |p| drops_value(&p[..3], p[3]),
        &[x[0], x[1], x[2], s],
        &grad,
        &want,
        |d| drops_value_jvp(&x, &d[..3], s, d[3]).1,
    );
    let graph = drops_value_graph(&x, s);
    let node = graph.node("s").expect("the parameter's node");
    assert_all_close("graph d_s", &[node.adjoint()], &[want[3]]);
}

/// Views that are written: `split_at_mut` of a copy made with `to_vec`, and `&mut s[a..b]`.
/// f = x₀ x₂ (x₃ + x₁) + x₁ x₂.
#[differentiate(reverse, forward, hessian)]
fn split_copy(x: &[f64]) -> f64 {
    let mut s = x.to_vec();
    let (a, b) = s.split_at_mut(2);
    a[0] *= b[0];
    b[1] += a[1];
    let v = &mut s[1..3];
    let u = v;
    u[0] *= u[1];
    s[0] * s[3] + s[1]
}

/// One recurrent cell on a state whose halves are the hidden and the cell values, as `ADBench`'s
/// LSTM writes its layer: `let (hidden, cell) = state.split_at_mut(n);`.
#[differentiate(reverse, forward, hessian)]
fn cell_update(w: &[f64], state: &mut [f64]) {
    let n = w.len();
    let (hidden, cell) = state.split_at_mut(n);
    for i in 0..n {
        cell[i] = cell[i] * w[i] + hidden[i].tanh();
        hidden[i] = cell[i].sin() * w[i];
    }
}

/// The state copied with `to_vec` (as a by-value `std::vector` argument), updated by
/// `cell_update` in a loop, then read through `split_at`.
#[differentiate(reverse, forward, hessian, wrt(w))]
fn steps(w: &[f64], state: &[f64], count: usize) -> f64 {
    let mut s = state.to_vec();
    for _ in 0..count {
        cell_update(w, &mut s);
    }
    let (h, c) = s.split_at(w.len());
    let mut total = 0.0;
    for i in 0..h.len() {
        total += h[i] * c[i];
    }
    total
}

/// The same, the state written as the second half of a buffer (`copy_from_slice`) and passed
/// on, the first half filled with `fill`.
#[differentiate(reverse, forward, wrt(w))]
fn steps_in_part(w: &[f64], state: &[f64]) -> f64 {
    let n = state.len();
    let mut s = vec![0.5; 2 * n];
    let (head, tail) = s.split_at_mut(n);
    tail.copy_from_slice(state);
    head.fill(w[0]);
    cell_update(w, tail);
    head[0] += tail[0] * tail[n - 1];
    s[0] + s[n + 1] + s[1]
}

#[test]
fn written_views_and_copies() {
    let x = [0.3, -0.7, 1.1, 0.4];
    let want = [
        x[2] * (x[3] + x[1]),
        x[0] * x[2] + x[2],
        x[0] * (x[3] + x[1]) + x[1],
        x[0] * x[2],
    ];
    let (value, grad) = split_copy_grad(&x);
    assert_eq!(value, split_copy(&x));
    assert!((value - (x[0] * x[2] * (x[3] + x[1]) + x[1] * x[2])).abs() < 1e-14);
    check_buffer_case("split_copy", split_copy, &x, &grad, &want, |d| {
        split_copy_jvp(&x, d).1
    });
    // The Hessian, by hand: every second derivative of the cubic.
    let hessian = split_copy_hessian(&x).2;
    let want_h = [
        [0.0, x[2], x[3] + x[1], x[2]],
        [x[2], 0.0, x[0] + 1.0, 0.0],
        [x[3] + x[1], x[0] + 1.0, 0.0, x[0]],
        [x[2], 0.0, x[0], 0.0],
    ];
    assert_eq!(hessian.len(), 16);
    for (row, want) in hessian.chunks(4).zip(&want_h) {
        assert_all_close("split_copy hessian", row, want);
    }
}

#[test]
fn a_state_split_into_halves_through_a_loop_of_calls() {
    let w = [0.7, -0.4, 1.2];
    let state = [0.2, -0.5, 0.9, 0.3, 1.1, -0.8];
    for count in [0, 1, 3] {
        let (value, grad) = steps_grad(&w, &state, count);
        assert_eq!(value, steps(&w, &state, count));
        let want = differences(|p| steps(p, &state, count), &w);
        assert_all_close_to(&format!("steps {count}"), &grad, &want, 1e-8);
        check_gradient(|p| steps(p, &state, count), &w, &grad).unwrap();
        let dir = [0.3, 0.1, -0.6];
        let (_, t) = steps_jvp(&w, &dir, &state, count);
        let jv: f64 = grad.iter().zip(&dir).map(|(g, d)| g * d).sum();
        assert!((t - jv).abs() < 1e-12, "steps {count} jvp {t} against {jv}");
        // H·v against central differences of the gradient along v.
        let (_, _, hv) = steps_hvp(&w, &dir, &state, count);
        let want = hv_by_differences(|q| steps_grad(q, &state, count).1, &w, &dir);
        assert_all_close_to(&format!("steps {count} hvp"), &hv, &want, 1e-7);
    }
    let (value, grad) = steps_in_part_grad(&w, &state);
    assert_eq!(value, steps_in_part(&w, &state));
    let want = differences(|p| steps_in_part(p, &state), &w);
    assert_all_close_to("steps_in_part", &grad, &want, 1e-8);
}

/// A value and an array, as a function with several outputs returns them.
#[differentiate(reverse, forward, hessian)]
fn square_and_pair(u: f64) -> (f64, [f64; 2]) {
    (u, [u * u, u.sin()])
}

/// The array of a tuple bound by a pattern, a part of it passed to a helper that writes into a
/// buffer: the adjoint the helper's backward call adds into the part must reach the call that
/// returned the array. f = x + s · x² (`&y[0..1]`) or x + s · sin x (`&y[1..2]`).
#[differentiate(reverse, forward, hessian)]
fn tuple_part_to_helper(x: f64, s: f64, second: bool) -> f64 {
    let (t, y): (f64, [f64; 2]) = square_and_pair(x);
    let mut b = [0.0; 1];
    if second {
        scale_sin_free(&y[1..2], s, &mut b);
    } else {
        scale_sin_free(&y[0..1], s, &mut b);
    }
    b[0] + t
}

/// `out = s · x`, a helper that writes into a buffer.
#[differentiate(reverse, forward, hessian)]
fn scale_sin_free(x: &[f64], s: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = s * x[i];
    }
}

/// An accumulation loop that fills an array a helper then reads a part of: the loop's
/// backward code needs the adjoint the helper's backward call adds into that part, so it cannot
/// run inside the loop before the call is reversed. f = Σ xᵢ² + (s x₁²)(s x₂²), s = x₀.
#[differentiate(reverse, forward, hessian)]
fn loop_fills_what_a_helper_reads(x: &[f64]) -> f64 {
    let mut y = [0.0; 3];
    let mut total = 0.0;
    for i in 0..3 {
        y[i] = x[i] * x[i];
        total += y[i];
    }
    let mut b = [0.0; 2];
    scale_sin_free(&y[1..3], x[0], &mut b);
    total + b[0] * b[1]
}

#[test]
fn a_part_of_an_array_written_before_a_helper_reads_it() {
    for (x, s) in [(1.5, 1.0), (-0.7, 0.4)] {
        for second in [false, true] {
            let (value, d_x, d_s) = tuple_part_to_helper_grad(x, s, second);
            assert_eq!(value, tuple_part_to_helper(x, s, second));
            let (inner, d_inner) = if second {
                (x.sin(), x.cos())
            } else {
                (x * x, 2.0 * x)
            };
            assert_all_close("tuple part", &[d_x, d_s], &[1.0 + s * d_inner, inner]);
            let (_, t) = tuple_part_to_helper_jvp(x, 0.3, s, -0.2, second);
            assert_all_close("tuple part jvp", &[t], &[0.3 * d_x - 0.2 * d_s]);
            let (_, _, _, hv_x, hv_s) = tuple_part_to_helper_hvp(x, 1.0, s, 0.0, second);
            let dd_inner = if second { -x.sin() } else { 2.0 };
            assert_all_close("tuple part hvp", &[hv_x, hv_s], &[s * dd_inner, d_inner]);
        }
    }
    let x = [0.3, -0.7, 1.1];
    let (s, a, c) = (x[0], x[1] * x[1], x[2] * x[2]);
    let want = [
        2.0 * x[0] + 2.0 * s * a * c,
        2.0 * x[1] + s * s * 2.0 * x[1] * c,
        2.0 * x[2] + s * s * a * 2.0 * x[2],
    ];
    check_buffer_case(
        "loop_fills_what_a_helper_reads",
        loop_fills_what_a_helper_reads,
        &x,
        &loop_fills_what_a_helper_reads_grad(&x).1,
        &want,
        |d| loop_fills_what_a_helper_reads_jvp(&x, d).1,
    );
    let dir = [0.3, 0.1, -0.6];
    let (_, _, hv) = loop_fills_what_a_helper_reads_hvp(&x, &dir);
    let by_differences = hv_by_differences(|q| loop_fills_what_a_helper_reads_grad(q).1, &x, &dir);
    assert_all_close_to(
        "loop_fills_what_a_helper_reads hvp",
        &hv,
        &by_differences,
        1e-7,
    );
}

/// Prefix sums, doubled: `out` written in full, then read: `outᵢ = 2 Σ_{j ≤ i} xⱼ`.
#[differentiate(reverse, forward)]
fn prefix_sums(x: &[f64], out: &mut [f64]) {
    let n = out.len();
    for i in 0..n {
        out[i] = 2.0 * x[i];
    }
    for i in 1..n {
        out[i] += out[i - 1];
    }
}

/// A copy, then a change in place.
#[differentiate(reverse, forward)]
fn copied(x: &[f64], out: &mut [f64]) {
    out.copy_from_slice(x);
    out[0] *= x[0];
}

/// Writes all but the first element: what `out[0]` held passes through.
#[differentiate(reverse, forward)]
fn all_but_first(x: &[f64], out: &mut [f64]) {
    for i in 1..out.len() {
        out[i] = x[i] * x[i];
    }
}

/// Writes `out` in full only when `s` is positive.
#[differentiate(reverse, forward)]
fn when_positive(x: &[f64], s: f64, out: &mut [f64]) {
    if s > 0.0 {
        for i in 0..out.len() {
            out[i] = s * x[i];
        }
    }
}

/// A loop over rows through five helpers and one local buffer: `c` is overwritten by the prefix
/// sums of a row, by a copy of the row, by a multiple of the row when the row starts positive,
/// in all but its first element by the squares of the row, then scaled in place by the row (a
/// helper that reads it); f sums (Σᵢ cᵢ)², c₀ c₂ and c₀ c₁ at those points of each row.
#[differentiate(reverse, forward)]
fn rows_through_helpers(x: &[f64], d: usize) -> f64 {
    let mut c = vec![0.0; d];
    let mut f = 0.0;
    for r in 0..x.len() / d {
        let row = &x[r * d..(r + 1) * d];
        prefix_sums(row, &mut c);
        let mut s = 0.0;
        for v in &c {
            s += v;
        }
        f += s * s;
        copied(row, &mut c);
        f += c[0] * c[2];
        when_positive(row, row[0], &mut c);
        all_but_first(row, &mut c);
        scale_in_place(row, &mut c);
        f += c[0] * c[1];
    }
    f
}

#[test]
fn helpers_that_overwrite_their_buffers_say_so() {
    assert!(subtract_overwrites());
    assert!(scale_sin_overwrites());
    assert!(prefix_sums_overwrites());
    assert!(copied_overwrites());
    assert!(!scale_in_overwrites());
    assert!(!accumulate_overwrites());
    assert!(!scale_in_place_overwrites());
    assert!(!write_tail_overwrites());
    assert!(!all_but_first_overwrites());
    assert!(!when_positive_overwrites());
    // The caller saves what its buffer held only for the helpers that read it: the gradient
    // against differences, through every kind of helper.
    let x = [0.4, -1.2, 0.7, -0.3, 1.5, 0.2, 0.9, -0.8, 0.6];
    let (value, grad) = rows_through_helpers_grad(&x, 3);
    assert_eq!(value, rows_through_helpers(&x, 3));
    let fd = differences(|p| rows_through_helpers(p, 3), &x);
    assert_all_close_to("rows_through_helpers", &grad, &fd, 1e-9);
    let dir = [0.3, -0.1, 0.7, 0.2, -0.5, 0.4, 0.1, 0.6, -0.2];
    let (_, tangent) = rows_through_helpers_jvp(&x, &dir, 3);
    let along: f64 = grad.iter().zip(&dir).map(|(g, v)| g * v).sum();
    assert!((tangent - along).abs() < 1e-12 * (1.0 + along.abs()));
}

/// Gathers `x` at the indices `idx`, squared, into `out`: `idx` is a constant slice before
/// the out-parameter, with no derivative buffer.
#[differentiate(reverse, forward, hessian)]
fn gather_sq(x: &[f64], idx: &[usize], out: &mut [f64]) {
    for i in 0..idx.len() {
        out[i] = x[idx[i]] * x[idx[i]];
    }
}

/// g = [x₂², x₀², x₁²] at `idx = [2, 0, 1]`; f = g₀g₁ − g₂ = x₀²x₂² − x₁².
#[differentiate(reverse, forward, hessian)]
fn gathered(x: &[f64], idx: &[usize]) -> f64 {
    let mut g = [0.0; 3];
    gather_sq(x, idx, &mut g);
    g[0] * g[1] - g[2]
}

/// As `gathered`, with a part of a local index array.
#[differentiate(reverse, forward, hessian)]
fn gathered_local(x: &[f64]) -> f64 {
    let idx = [2usize, 0, 1, 0];
    let mut g = [0.0; 3];
    gather_sq(x, &idx[..3], &mut g);
    g[0] * g[1] - g[2]
}

/// Constants of a helper, passed by reference.
struct Shift {
    by: f64,
}

/// `out = x² + shift`.
#[differentiate(reverse, forward, hessian)]
fn shifted_sq(x: &[f64], cfg: &Shift, out: &mut [f64]) {
    for i in 0..x.len() {
        out[i] = x[i] * x[i] + cfg.by;
    }
}

/// g = x² + s; f = g₀g₁ − g₂.
#[differentiate(reverse, forward, hessian)]
fn shifted_caller(x: &[f64], cfg: &Shift) -> f64 {
    let mut g = [0.0; 3];
    shifted_sq(x, cfg, &mut g);
    g[0] * g[1] - g[2]
}

#[test]
fn buffer_helpers_take_constant_references_before_their_out_parameter() {
    let x = [1.0, 2.0, 3.0];
    let idx = [2, 0, 1];
    // ∂f = (2x₀x₂², −2x₁, 2x₂x₀²); H: ∂₀₀ = 2x₂², ∂₀₂ = 4x₀x₂, ∂₁₁ = −2, ∂₂₂ = 2x₀².
    let want_grad = [18.0, -4.0, 6.0];
    let want_hess = [18.0, 0.0, 12.0, 0.0, -2.0, 0.0, 12.0, 0.0, 2.0];
    let (f, g) = gathered_grad(&x, &idx);
    assert_eq!((f, g), (5.0, want_grad.to_vec()));
    let (f, g) = gathered_local_grad(&x);
    assert_eq!((f, g), (5.0, want_grad.to_vec()));
    for (k, &want) in want_grad.iter().enumerate() {
        let mut v = [0.0; 3];
        v[k] = 1.0;
        assert_eq!(gathered_jvp(&x, &v, &idx), (5.0, want));
        assert_eq!(gathered_local_jvp(&x, &v), (5.0, want));
    }
    assert_eq!(gathered_hessian(&x, &idx).2, want_hess.to_vec());
    assert_eq!(gathered_local_hessian(&x).2, want_hess.to_vec());

    // g = [1.5, 4.5, 9.5]: f = −2.75, ∂f = (2x₀g₁, 2x₁g₀, −2x₂), H: ∂₀₀ = 2g₁, ∂₀₁ = 4x₀x₁,
    // ∂₁₁ = 2g₀, ∂₂₂ = −2.
    let cfg = Shift { by: 0.5 };
    let (f, g) = shifted_caller_grad(&x, &cfg);
    assert_eq!((f, g), (-2.75, vec![9.0, 6.0, -6.0]));
    assert_eq!(shifted_caller_jvp(&x, &[0.0, 1.0, 0.0], &cfg), (-2.75, 6.0));
    let (_, _, h) = shifted_caller_hessian(&x, &cfg);
    assert_eq!(h, vec![9.0, 8.0, 0.0, 8.0, 3.0, 0.0, 0.0, 0.0, -2.0]);
    let fd = differences(|p| shifted_caller(p, &cfg), &x);
    assert_all_close_to(
        "shifted_caller",
        &shifted_caller_grad(&x, &cfg).1,
        &fd,
        1e-6,
    );
}

/// `out = a − b`.
#[differentiate(reverse, forward, hessian)]
fn sub_into(a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] - b[i];
    }
}

/// The squared distance between two points stored one after the other in one slice: two parts
/// of one array passed to one call.
#[differentiate(reverse, forward, hessian)]
fn pair_dist2(x: &[f64]) -> f64 {
    let mut d = [0.0; 2];
    sub_into(&x[0..2], &x[2..4], &mut d);
    d[0] * d[0] + d[1] * d[1]
}

/// Every ordered pair of three points of a local array, weighted by the first's index.
#[differentiate(reverse, forward, hessian)]
fn weighted_pairs(x: [f64; 6]) -> f64 {
    let p = [x[0] * x[1], x[1], x[2], x[3], x[4], x[5]];
    let mut d = [0.0; 2];
    let mut s = 0.0;
    let mut w = 1.0;
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                sub_into(&p[2 * i..2 * i + 2], &p[2 * j..2 * j + 2], &mut d);
                s += w * d[0] * d[0] * d[1];
            }
        }
        w += 1.0;
    }
    s
}

/// The same slice passed twice: `x − x = 0`.
#[differentiate(reverse, forward, hessian)]
fn minus_itself(x: &[f64]) -> f64 {
    let mut d = vec![0.0; x.len()];
    sub_into(x, x, &mut d);
    d[0] + x[0] * x[1]
}

#[test]
fn two_parts_of_one_array_are_inputs_of_one_buffer_helper() {
    let x = [1.0, 2.0, 4.0, 6.0];
    assert_eq!(pair_dist2_grad(&x), (25.0, vec![-6.0, -8.0, 6.0, 8.0]));
    let (_, _, h) = pair_dist2_hessian(&x);
    let want = [
        2.0, 0.0, -2.0, 0.0, //
        0.0, 2.0, 0.0, -2.0, //
        -2.0, 0.0, 2.0, 0.0, //
        0.0, -2.0, 0.0, 2.0,
    ];
    assert_eq!(h, want.to_vec());
    assert_eq!(pair_dist2_jvp(&x, &[1.0, 0.0, 0.0, 0.0]), (25.0, -6.0));

    let p = [1.0, 2.0, 4.0, 6.0, 0.5, -1.0];
    let fd = differences(|q| weighted_pairs(q.try_into().unwrap()), &p);
    let (_, g) = weighted_pairs_grad(p);
    assert_all_close_to("weighted_pairs", &g, &fd, 1e-6);
    for k in 0..6 {
        let mut v = [0.0; 6];
        v[k] = 1.0;
        let (_, t) = weighted_pairs_jvp(p, v);
        assert_all_close_to("weighted_pairs_jvp", &[t], &[g[k]], 1e-12);
    }
    let (_, _, h) = weighted_pairs_hessian(p);
    for k in 0..6 {
        let mut v = [0.0; 6];
        v[k] = 1.0;
        let want = hv_by_differences(
            |q| weighted_pairs_grad(q.try_into().unwrap()).1.to_vec(),
            &p,
            &v,
        );
        assert_all_close_to("weighted_pairs_hessian", &h[k], &want, 1e-5);
    }

    assert_eq!(minus_itself_grad(&[1.0, 2.0]), (2.0, vec![2.0, 1.0]));
    assert_eq!(
        minus_itself_hessian(&[1.0, 2.0]).2,
        vec![0.0, 1.0, 1.0, 0.0]
    );
}

/// `v = (q₀q₁, q₁²)`: accelerations from positions.
#[differentiate(reverse, forward, hessian)]
fn accel2(q: &[f64], v: &mut [f64]) {
    v[0] = q[0] * q[1];
    v[1] = q[1] * q[1];
}

/// One half of a state written from the other through `split_at_mut`:
/// state = [x₀, x₁, x₀x₁, x₁²], f = x₀x₁³ + x₀.
#[differentiate(reverse, forward, hessian)]
fn half_from_half(x: &[f64]) -> f64 {
    let mut state = [x[0], x[1], 0.0, 0.0];
    let (q, v) = state.split_at_mut(2);
    accel2(q, &mut *v);
    state[2] * state[3] + state[0]
}

/// The same in a loop over a buffer, the halves passed as parts.
#[differentiate(reverse, forward, hessian)]
fn half_from_half_steps(x: &[f64]) -> f64 {
    let mut state = vec![0.0; x.len() + 2];
    state[0] = x[0];
    state[1] = x[1];
    for _ in 0..2 {
        let (q, v) = state.split_at_mut(2);
        accel2(&q[..], &mut v[..]);
        state[0] = state[2] * 0.5;
        state[1] = state[3] - state[0];
    }
    state[1] * state[0]
}

#[test]
fn a_buffer_helper_reads_one_half_of_a_split_buffer_and_writes_the_other() {
    let x = [0.7, -1.3];
    let (x0, x1) = (x[0], x[1]);
    let (f, g) = half_from_half_grad(&x);
    assert_all_close_to("half_from_half", &[f], &[x0 * x1.powi(3) + x0], 1e-12);
    assert_all_close_to(
        "half_from_half",
        &g,
        &[x1.powi(3) + 1.0, 3.0 * x0 * x1 * x1],
        1e-12,
    );
    assert_all_close_to(
        "half_from_half_jvp",
        &[half_from_half_jvp(&x, &[0.0, 1.0]).1],
        &[g[1]],
        1e-12,
    );
    let (_, _, h) = half_from_half_hessian(&x);
    let cross = 3.0 * x1 * x1;
    assert_all_close_to(
        "half_from_half_hessian",
        &h,
        &[0.0, cross, cross, 6.0 * x0 * x1],
        1e-12,
    );

    let fd = differences(half_from_half_steps, &x);
    let (_, g) = half_from_half_steps_grad(&x);
    assert_all_close_to("half_from_half_steps", &g, &fd, 1e-6);
    assert_all_close_to(
        "half_from_half_steps_jvp",
        &[half_from_half_steps_jvp(&x, &[1.0, 0.0]).1],
        &[g[0]],
        1e-12,
    );
    let (_, _, h) = half_from_half_steps_hessian(&x);
    for k in 0..2 {
        let mut v = [0.0; 2];
        v[k] = 1.0;
        let want = hv_by_differences(|p| half_from_half_steps_grad(p).1, &x, &v);
        assert_all_close_to(
            "half_from_half_steps_hessian",
            &h[2 * k..2 * k + 2],
            &want,
            1e-5,
        );
    }
}

/// An array literal as an input of a buffer helper: d = x − (m, m), f = d₀d₁.
#[differentiate(reverse, forward, hessian)]
fn literal_into_helper(x: [f64; 2], m: f64) -> f64 {
    let mut d = [0.0; 2];
    sub_into(&x, &[m, m], &mut d);
    d[0] * d[1]
}

/// A literal of values a loop changes, passed in each iteration.
#[differentiate(reverse, forward, hessian)]
fn literal_in_loop(x: &[f64], m: f64) -> f64 {
    let mut d = [0.0; 2];
    let mut s = 0.0;
    let mut c = m;
    for i in 0..3 {
        sub_into(&x[i..i + 2], &[c, c * c], &mut d);
        s += d[0] * d[1];
        c = c * 0.5 + d[0];
    }
    s
}

#[test]
fn an_array_literal_is_an_input_of_a_buffer_helper() {
    let (x, m) = ([1.0, 2.0], 0.5);
    assert_eq!(literal_into_helper_grad(x, m), (0.75, [1.5, 0.5], -2.0));
    assert_eq!(literal_into_helper_jvp(x, [0.0, 0.0], m, 1.0), (0.75, -2.0));
    // H: ∂x₀∂x₁ = 1, ∂x₀∂m = ∂x₁∂m = −1, ∂m² = 2.
    let (_, _, _, h) = literal_into_helper_hessian(x, m);
    assert_eq!(h, [[0.0, 1.0, -1.0], [1.0, 0.0, -1.0], [-1.0, -1.0, 2.0]]);

    let x = [0.3, -0.7, 1.1, 0.4];
    let m = 0.6;
    let (value, dx, dm) = literal_in_loop_grad(&x, m);
    assert_eq!(value, literal_in_loop(&x, m));
    let mut p = x.to_vec();
    p.push(m);
    let fd = differences(|p| literal_in_loop(&p[..4], p[4]), &p);
    let mut g = dx.clone();
    g.push(dm);
    assert_all_close_to("literal_in_loop", &g, &fd, 1e-6);
    let (_, t) = literal_in_loop_jvp(&x, &[0.0; 4], m, 1.0);
    assert_all_close_to("literal_in_loop_jvp", &[t], &[dm], 1e-12);
}

/// Sorts three values by swapping, as a pivoting step does: the sorted values are weighted
/// 1, 2, 3, so each input's derivative is the weight of its rank.
#[differentiate(reverse, forward, hessian)]
fn sort3(x: [f64; 3]) -> f64 {
    let mut a = x;
    for i in 0..3 {
        for j in 0..2 - i {
            if a[j] > a[j + 1] {
                a.swap(j, j + 1);
            }
        }
    }
    a[0] + 2.0 * a[1] + 3.0 * a[2] * a[2]
}

/// `swap` on a run-time buffer, on a part of it, and on an out-parameter.
#[differentiate(reverse, forward, hessian)]
fn reversed_into(x: &[f64], out: &mut [f64]) {
    let mut b = x.to_vec();
    let n = b.len();
    for i in 0..n / 2 {
        b.swap(i, n - 1 - i);
    }
    b[1..3].swap(0, 1);
    for i in 0..n {
        out[i] = b[i] * x[i];
    }
    out.swap(0, n - 1);
}

/// f = Σ wᵢ outᵢ over `reversed_into`.
#[differentiate(reverse, forward, hessian)]
fn reversed_weighted(x: &[f64]) -> f64 {
    let mut out = vec![0.0; x.len()];
    reversed_into(x, &mut out);
    let mut s = 0.0;
    let mut w = 1.0;
    for i in 0..out.len() {
        s += w * out[i];
        w += 1.0;
    }
    s
}

#[test]
fn swap_permutes_values_and_their_derivatives() {
    // Sorted: (1, 2, 3) from x = (3, 1, 2): ∂f/∂x = (6·3, 1, 2).
    let x = [3.0, 1.0, 2.0];
    assert_eq!(sort3_grad(x), (32.0, [18.0, 1.0, 2.0]));
    assert_eq!(sort3_jvp(x, [1.0, 0.0, 0.0]), (32.0, 18.0));
    let (_, _, h) = sort3_hessian(x);
    assert_eq!(h, [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);

    let x = [0.5, -1.0, 2.0, 1.5, 0.25];
    let fd = differences(reversed_weighted, &x);
    let (value, g) = reversed_weighted_grad(&x);
    assert_eq!(value, reversed_weighted(&x));
    assert_all_close_to("reversed_weighted", &g, &fd, 1e-6);
    for k in 0..5 {
        let mut v = [0.0; 5];
        v[k] = 1.0;
        let (_, t) = reversed_weighted_jvp(&x, &v);
        assert_all_close_to("reversed_weighted_jvp", &[t], &[g[k]], 1e-12);
    }
    let (_, _, h) = reversed_weighted_hessian(&x);
    for k in 0..5 {
        let mut v = [0.0; 5];
        v[k] = 1.0;
        let want = hv_by_differences(|p| reversed_weighted_grad(p).1, &x, &v);
        assert_all_close_to(
            "reversed_weighted_hessian",
            &h[5 * k..5 * k + 5],
            &want,
            1e-5,
        );
    }
}

/// `out[i] = x[idx[i]] · s`, reading its indices from a constant `&[usize]`.
#[differentiate(reverse, forward, hessian)]
fn gather_scaled(x: &[f64], idx: &[usize], s: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = x[idx[i]] * s;
    }
}

/// Local index arrays bound in a branch, a loop body and after an early `return`, passed to a
/// buffer helper: the helper's derivative in the backward sweep reads them again there.
#[differentiate(reverse, forward, hessian)]
fn gathered_in_blocks(x: &[f64], y: f64) -> f64 {
    if y > 5.0 {
        return y;
    }
    let mut total = 0.0;
    if y > 0.0 {
        let k = [1usize, 0];
        let mut b = [0.0; 2];
        gather_scaled(x, &k, y, &mut b);
        total += b[0] * b[1];
    }
    for i in 0..2 {
        let k = [2usize, 1];
        let mut b = [0.0; 2];
        gather_scaled(x, &k, y + f64::from(i), &mut b);
        total += b[0] - b[1] * b[1];
    }
    let k: [usize; 1] = [2];
    let mut b = [0.0; 1];
    gather_scaled(x, &k, y, &mut b);
    total + b[0] * y
}

#[test]
fn local_index_arrays_in_blocks_reach_the_backward_sweep() {
    let x = [0.3, -0.7, 1.1];
    let y = 0.8;
    // y > 0: x1 y · x0 y; i = 0, 1: x2 (y + i) - (x1 (y + i))²; then x2 y · y.
    let value = |x: &[f64], y: f64| {
        let mut t = x[1] * y * x[0] * y;
        for i in 0..2 {
            let s = y + f64::from(i);
            t += x[2] * s - (x[1] * s) * (x[1] * s);
        }
        t + x[2] * y * y
    };
    let s: [f64; 2] = [y, y + 1.0];
    let want_x = [
        x[1] * y * y,
        x[0] * y * y - 2.0 * x[1] * (s[0] * s[0] + s[1] * s[1]),
        s[0] + s[1] + y * y,
    ];
    let want_y =
        2.0 * x[0] * x[1] * y + 2.0 * x[2] - 2.0 * x[1] * x[1] * (s[0] + s[1]) + 2.0 * x[2] * y;
    let (v, dx, dy) = gathered_in_blocks_grad(&x, y);
    assert_eq!(v, gathered_in_blocks(&x, y));
    assert!((v - value(&x, y)).abs() < 1e-14);
    for j in 0..3 {
        assert!(
            (dx[j] - want_x[j]).abs() < 1e-13,
            "{j}: {} {}",
            dx[j],
            want_x[j]
        );
    }
    assert!((dy - want_y).abs() < 1e-13, "{dy} {want_y}");
    let (_, t) = gathered_in_blocks_jvp(&x, &[0.0, 0.0, 0.0], y, 1.0);
    assert!((t - want_y).abs() < 1e-13);
    // Second order along y: d²/dy² = 2 x0 x1 - 4 x1² + 2 x2.
    let (.., hv_y) = gathered_in_blocks_hvp(&x, &[0.0; 3], y, 1.0);
    let want_yy = 2.0 * x[0] * x[1] - 4.0 * x[1] * x[1] + 2.0 * x[2];
    assert!((hv_y - want_yy).abs() < 1e-12, "{hv_y} {want_yy}");
    // Past the early return: y alone.
    assert_eq!(gathered_in_blocks_grad(&x, 6.0), (6.0, vec![0.0; 3], 1.0));
}

/// `out = Q x` for the lower-triangular `Q` with diagonal `q` and strictly lower part `l`
/// stored column by column (the GMM benchmark's `qtimesx`): a linear helper, whose adjoints need nothing
/// its forward sweep computes.
#[differentiate(reverse, forward)]
fn lower_times(q: &[f64], l: &[f64], x: &[f64], out: &mut [f64]) {
    let d = out.len();
    for i in 0..d {
        out[i] = q[i] * x[i];
    }
    let mut k = 0;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += l[k] * x[i];
            k += 1;
        }
    }
}

/// `out = exp(x)`: a helper whose backward code reads back what it stored.
#[differentiate(reverse, forward)]
fn exps(x: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = x[i].exp();
    }
}

/// Σ over the rows `r` of `x` (rows of length `d`) of ‖Q (xᵣ − μ)‖² + Σ exp(xᵣ): helpers into
/// buffers overwritten per row, whose backward code calls their `g_adjoint_into`.
#[differentiate(reverse, forward, wrt(q, l, mu))]
fn centred_rows(q: &[f64], l: &[f64], mu: &[f64], x: &[f64], d: usize) -> f64 {
    let mut centred = vec![0.0; d];
    let mut image = vec![0.0; d];
    let mut e = vec![0.0; d];
    let mut s = 0.0;
    for r in 0..x.len() / d {
        subtract(&x[r * d..(r + 1) * d], mu, &mut centred);
        lower_times(q, l, &centred, &mut image);
        exps(&centred, &mut e);
        for i in 0..d {
            s += image[i] * image[i] + e[i];
        }
    }
    s
}

/// A caller's backward code calls `g_adjoint_into`, which takes `g_vjp_into`'s arguments and
/// gives its adjoints without writing the outputs (a linear helper then runs no forward sweep):
/// against closed forms, including for helpers whose adjoints read what they stored or what
/// the buffer held (those call `g_vjp_into`), and a caller against central differences.
#[test]
fn a_callers_backward_code_takes_the_adjoints_alone() {
    let (q, l, x) = ([1.5, -0.5, 2.0], [0.3, -1.2, 0.7], [0.4, -0.9, 1.3]);
    let seed = [0.6, -1.1, 0.25];
    // Q x: ∂/∂q_i = s_i x_i, ∂/∂x_i = q_i s_i + Σ_{j>i} l_{k(i,j)} s_j, ∂/∂l_{k(i,j)} = s_j x_i,
    // with k(0,1) = 0, k(0,2) = 1, k(1,2) = 2.
    let want_q: Vec<f64> = (0..3).map(|i| seed[i] * x[i]).collect();
    let want_x = [
        q[0] * seed[0] + l[0] * seed[1] + l[1] * seed[2],
        q[1] * seed[1] + l[2] * seed[2],
        q[2] * seed[2],
    ];
    let want_l = [seed[1] * x[0], seed[2] * x[0], seed[2] * x[1]];
    let (mut d_q, mut d_l, mut d_x, mut d_out) = ([0.0; 3], [0.0; 3], [0.0; 3], seed);
    let mut out = [0.0; 3];
    lower_times_adjoint_into(
        &q, &mut d_q, &l, &mut d_l, &x, &mut d_x, &mut out, &mut d_out,
    );
    assert_all_close("d_q", &d_q, &want_q);
    assert_all_close("d_l", &d_l, &want_l);
    assert_all_close("d_x", &d_x, &want_x);
    assert_eq!(d_out, [0.0; 3]);

    // exp(x): ∂/∂x_i = s_i exp(x_i).
    let (mut d_x, mut d_out, mut out) = ([0.0; 3], seed, [0.0; 3]);
    exps_adjoint_into(&x, &mut d_x, &mut out, &mut d_out);
    let want: Vec<f64> = (0..3).map(|i| seed[i] * x[i].exp()).collect();
    assert_all_close("exps d_x", &d_x, &want);
    assert_eq!(d_out, [0.0; 3]);

    // s · sin(x): ∂/∂x_i = s · s_i cos(x_i), ∂/∂s = Σ s_i sin(x_i).
    let (mut d_x, mut d_out, mut out) = ([0.0; 3], seed, [0.0; 3]);
    let (d_s,) = scale_sin_adjoint_into(&x, &mut d_x, 2.0, &mut out, &mut d_out);
    let want: Vec<f64> = (0..3).map(|i| 2.0 * seed[i] * x[i].cos()).collect();
    assert_all_close("scale_sin d_x", &d_x, &want);
    let want_s: f64 = (0..3).map(|i| seed[i] * x[i].sin()).sum();
    assert_all_close("scale_sin d_s", &[d_s], &[want_s]);

    // out ← out ⊙ x reads what the buffer held (`b`): ∂/∂x_i = s_i b_i, and the seed becomes
    // the adjoint of what it held, s_i x_i.
    let b = [0.5, 2.0, -1.5];
    let (mut d_x, mut d_out, mut out) = ([0.0; 3], seed, b);
    scale_in_place_adjoint_into(&x, &mut d_x, &mut out, &mut d_out);
    let want: Vec<f64> = (0..3).map(|i| seed[i] * b[i]).collect();
    assert_all_close("scale_in_place d_x", &d_x, &want);
    let want: Vec<f64> = (0..3).map(|i| seed[i] * x[i]).collect();
    assert_all_close("scale_in_place d_out", &d_out, &want);

    // A caller of all three, against central differences of the primal.
    let xs = [0.4, -0.9, 1.3, 0.2, 0.8, -0.3, -1.1, 0.5, 0.9];
    let mu = [0.1, -0.2, 0.3];
    let (mut g_q, mut g_l, mut g_mu) = ([0.0; 3], [0.0; 3], [0.0; 3]);
    let (value,) = centred_rows_grad_into(&q, &mut g_q, &l, &mut g_l, &mu, &mut g_mu, &xs, 3);
    assert_all_close("value", &[value], &[centred_rows(&q, &l, &mu, &xs, 3)]);
    fd_check(|p| centred_rows(p, &l, &mu, &xs, 3), &q, &g_q);
    fd_check(|p| centred_rows(&q, p, &mu, &xs, 3), &l, &g_l);
    fd_check(|p| centred_rows(&q, &l, p, &xs, 3), &mu, &g_mu);
}

/// f = Σ sin(c · 1.5 xᵢ): the helper reads a buffer made for the call, whose contents before it
/// are the literal it was filled with, which the backward code fills again rather than save.
#[differentiate]
fn fresh_buffer(x: &[f64], c: f64) -> f64 {
    let mut q = vec![1.5; x.len()];
    scale_in_place(x, &mut q);
    let mut s = 0.0;
    for i in 0..q.len() {
        s += (c * q[i]).sin();
    }
    s
}

/// f = Σ (2 xᵢ)² c for c > 0, else x₀² c³ + 4 (n − 1) c: the call in one branch, a write in
/// the other.
#[differentiate]
fn fresh_in_one_branch(x: &[f64], c: f64) -> f64 {
    let mut q = vec![2.0; x.len()];
    if c > 0.0 {
        scale_in_place(x, &mut q);
    } else {
        q[0] = x[0] * c;
    }
    let mut s = 0.0;
    for i in 0..q.len() {
        s += q[i] * q[i] * c;
    }
    s
}

/// A write in a branch before the call: the buffer is not what it was filled with.
#[differentiate]
fn written_in_a_branch_first(x: &[f64], c: f64) -> f64 {
    let mut q = vec![0.0; x.len()];
    if c > 0.0 {
        q[1] = c * x[0];
    }
    scale_in_place(x, &mut q);
    q[1] * c + q[0]
}

/// Two calls in a row on a fresh buffer of ones: f = Σ xᵢ² c; the second call's buffer is not
/// fresh.
#[differentiate]
fn fresh_then_written(x: &[f64], c: f64) -> f64 {
    let mut q = vec![1.0; x.len()];
    scale_in_place(x, &mut q);
    scale_in_place(x, &mut q);
    let mut s = 0.0;
    for i in 0..q.len() {
        s += q[i] * c;
    }
    s
}

#[test]
fn a_buffer_made_for_a_call_is_filled_again_not_saved() {
    let x = [0.3, -0.7, 1.1, 0.45];
    let c = 0.8;
    // Closed form: ∂f/∂xᵢ = 1.5 c cos(1.5 c xᵢ), ∂f/∂c = Σ 1.5 xᵢ cos(1.5 c xᵢ).
    let (value, gx, gc) = fresh_buffer_grad(&x, c);
    assert_eq!(value.to_bits(), fresh_buffer(&x, c).to_bits());
    let want: Vec<f64> = x.iter().map(|v| 1.5 * c * (1.5 * c * v).cos()).collect();
    assert_all_close("fresh_buffer d_x", &gx, &want);
    let want: f64 = x.iter().map(|v| 1.5 * v * (1.5 * c * v).cos()).sum();
    assert_all_close("fresh_buffer d_c", &[gc], &[want]);

    // ∂f/∂xᵢ = 8 c xᵢ, ∂f/∂c = Σ 4 xᵢ² for c > 0; ∂f/∂x₀ = 2 x₀ c³, ∂f/∂c = 3 x₀² c² + 4 (n − 1)
    // for c < 0.
    let (_, gx, gc) = fresh_in_one_branch_grad(&x, c);
    let want: Vec<f64> = x.iter().map(|v| 8.0 * c * v).collect();
    assert_all_close("fresh_in_one_branch d_x", &gx, &want);
    let want: f64 = x.iter().map(|v| 4.0 * v * v).sum();
    assert_all_close("fresh_in_one_branch d_c", &[gc], &[want]);
    let m = -c;
    let (_, gx, gc) = fresh_in_one_branch_grad(&x, m);
    assert_all_close(
        "fresh_in_one_branch d_x",
        &gx,
        &[2.0 * x[0] * m.powi(3), 0.0, 0.0, 0.0],
    );
    assert_all_close(
        "fresh_in_one_branch d_c",
        &[gc],
        &[3.0 * x[0] * x[0] * m * m + 12.0],
    );

    // f = c² x₀ x₁ + 0 for c > 0, 0 otherwise: ∂f/∂x₀ = c² x₁, ∂f/∂x₁ = c² x₀, ∂f/∂c = 2 c x₀ x₁.
    let (_, gx, gc) = written_in_a_branch_first_grad(&x, c);
    assert_all_close(
        "written_in_a_branch_first d_x",
        &gx,
        &[c * c * x[1], c * c * x[0], 0.0, 0.0],
    );
    assert_all_close(
        "written_in_a_branch_first d_c",
        &[gc],
        &[2.0 * c * x[0] * x[1]],
    );

    let (_, gx, gc) = fresh_then_written_grad(&x, c);
    let want: Vec<f64> = x.iter().map(|v| 2.0 * c * v).collect();
    assert_all_close("fresh_then_written d_x", &gx, &want);
    let want: f64 = x.iter().map(|v| v * v).sum();
    assert_all_close("fresh_then_written d_c", &[gc], &[want]);
    // What the helper's backward code reads of the buffer is refilled, not saved: the
    // gradient allocates the buffer, its adjoint and that scratch buffer, and no tape.
    let mut d_x = [0.0; 4];
    let info = allocation_counter::measure(|| {
        std::hint::black_box(fresh_buffer_grad_into(&x, &mut d_x, c));
    });
    assert_eq!((info.count_total, info.bytes_max), (3, 3 * 4 * 8));
    for (f, g) in [
        (
            fresh_buffer as fn(&[f64], f64) -> f64,
            fresh_buffer_grad as fn(&[f64], f64) -> _,
        ),
        (fresh_in_one_branch, fresh_in_one_branch_grad),
        (written_in_a_branch_first, written_in_a_branch_first_grad),
        (fresh_then_written, fresh_then_written_grad),
    ] {
        fd_check(|p| f(p, c), &x, &g(&x, c).1);
    }
}

/// A scale held by a struct, whose methods write into buffers and call each other.
struct Scaler {
    a: f64,
}

impl Scaler {
    /// `out = a · sin(x)`.
    #[differentiate(reverse, forward)]
    fn fill(&self, x: &[f64], out: &mut [f64]) {
        for i in 0..out.len() {
            out[i] = self.a * x[i].sin();
        }
    }

    /// f = Σ (a sin xᵢ)², through `self.fill(x, &mut o)`.
    #[differentiate(reverse, forward)]
    fn energy(&self, x: &[f64]) -> f64 {
        let mut o = vec![0.0; x.len()];
        self.fill(x, &mut o);
        let mut s = 0.0;
        for i in 0..o.len() {
            s += o[i] * o[i];
        }
        s
    }
}

#[test]
fn a_method_that_writes_a_buffer_is_called_on_self() {
    let s = Scaler { a: 1.3 };
    let x = [0.3, -0.7, 1.1];
    // ∂f/∂xᵢ = 2 a² sin xᵢ cos xᵢ.
    let (value, g) = s.energy_grad(&x);
    assert_eq!(value.to_bits(), s.energy(&x).to_bits());
    let want: Vec<f64> = x
        .iter()
        .map(|v| 2.0 * s.a * s.a * v.sin() * v.cos())
        .collect();
    assert_all_close("energy d_x", &g, &want);
    let dir = [0.5, -1.0, 2.0];
    let (_, t) = s.energy_jvp(&x, &dir);
    let want: f64 = want.iter().zip(&dir).map(|(g, d)| g * d).sum();
    assert_all_close("energy jvp", &[t], &[want]);
    fd_check(|p| s.energy(p), &x, &g);
}

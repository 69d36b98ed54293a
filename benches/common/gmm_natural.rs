//! ADBench's GMM objective (`src/cpp/shared/gmm.h` and `matrix.h` of microsoft/ADBench), ported to
//! Rust as a user would write it: helper functions (`subtract`, `qtimesx`, `sqnorm`, `logsumexp`,
//! `preprocess_qs`, `log_wishart_prior`), run-time-sized temporaries (`vec![0.0; d * k]`),
//! helpers that write into buffers, sub-slices as arguments, and ADBench's statement order.
//! `x = x + y` in ADBench's templates (written so for its operator-overloading tools) is `x += y`
//! here, and the error is returned instead of written through a pointer.
//!
//! This is the target form for `#[differentiate]`, which differentiates it as written (see
//! `benches/RESULTS.md`, "ADBench GMM"), twice too: its `H·v` goes through the helpers' `g_hvp`
//! and `g_hvp_into`. The benchmark times its gradient as the family
//! `gmm_natural`, and the hand-written (Manual) gradient in `gmm.rs` shares its helpers, as
//! ADBench's Manual shares `gmm.h`.
// ADBench's loops index several arrays with one counter, and its arguments are ADBench's.
#![allow(clippy::needless_range_loop, clippy::too_many_arguments)]
// "ADBench" is a name, not code.
#![allow(clippy::doc_markdown)]
// Point and component counts are far below 2^52.
#![allow(clippy::cast_precision_loss)]

use autodiff::differentiate;

/// The parameters of the Wishart prior on the inverse covariances (ADBench's `Wishart`).
#[derive(Clone, Copy, Debug)]
pub struct Wishart {
    /// The scale `γ`.
    pub gamma: f64,
    /// The extra degrees of freedom `m`.
    pub m: usize,
}

/// `out = x - y`, element by element over `out.len()`.
#[differentiate(reverse, forward, hessian)]
pub fn subtract(x: &[f64], y: &[f64], out: &mut [f64]) {
    for id in 0..out.len() {
        out[id] = x[id] - y[id];
    }
}

/// `Σ xᵢ²`, started from the first element as ADBench does (so `x` must not be empty).
#[differentiate(reverse, hessian)]
#[must_use]
pub fn sqnorm(x: &[f64]) -> f64 {
    let mut res = x[0] * x[0];
    for i in 1..x.len() {
        res += x[i] * x[i];
    }
    res
}

/// The largest element (`x` must not be empty).
#[differentiate(reverse, hessian)]
#[must_use]
pub fn arr_max(x: &[f64]) -> f64 {
    let mut m = x[0];
    for i in 1..x.len() {
        m = m.max(x[i]);
    }
    m
}

/// `ln Σ exp(xᵢ)`, computed about the largest element.
#[differentiate(reverse, hessian)]
#[must_use]
pub fn logsumexp(x: &[f64]) -> f64 {
    let mx = arr_max(x);
    let mut semx = 0.0;
    for i in 0..x.len() {
        semx += (x[i] - mx).exp();
    }
    semx.ln() + mx
}

/// `out = Q x` for the lower-triangular `Q` with diagonal `qdiag` and strictly lower part `ltri`,
/// stored column by column.
#[differentiate(reverse, forward, hessian)]
pub fn qtimesx(qdiag: &[f64], ltri: &[f64], x: &[f64], out: &mut [f64]) {
    let d = out.len();
    for id in 0..d {
        out[id] = qdiag[id] * x[id];
    }
    let mut lparamsidx = 0;
    for i in 0..d {
        for j in i + 1..d {
            out[j] += ltri[lparamsidx] * x[i];
            lparamsidx += 1;
        }
    }
}

/// Per component, the sum of the log-diagonal entries of `icf` into `sum_qs`, and their
/// exponentials (the diagonal of `Q`) into `qdiags`.
#[differentiate(reverse, forward, hessian)]
pub fn preprocess_qs(d: usize, k: usize, icf: &[f64], sum_qs: &mut [f64], qdiags: &mut [f64]) {
    let icf_sz = d * (d + 1) / 2;
    for ik in 0..k {
        sum_qs[ik] = 0.0;
        for id in 0..d {
            let q = icf[ik * icf_sz + id];
            sum_qs[ik] += q;
            qdiags[ik * d + id] = q.exp();
        }
    }
}

/// `ln Γ(a)` for `a` a positive multiple of ½ (all that [`log_gamma_distrib`] needs), from
/// `Γ(1) = 1`, `Γ(½) = √π` and `Γ(z + 1) = z Γ(z)`; exact up to rounding.
#[must_use]
pub fn ln_gamma_half(a: f64) -> f64 {
    let mut z = if a.fract() == 0.0 { 1.0 } else { 0.5 };
    let mut out = if z == 1.0 {
        0.0
    } else {
        0.5 * std::f64::consts::PI.ln()
    };
    while z < a {
        out += z.ln();
        z += 1.0;
    }
    out
}

/// The log of the multivariate gamma function `Γ_p(a)` (ADBench's `log_gamma_distrib`).
#[must_use]
pub fn log_gamma_distrib(a: f64, p: usize) -> f64 {
    let pf = p as f64;
    let mut out = 0.25 * pf * (pf - 1.0) * std::f64::consts::PI.ln();
    for j in 1..=p {
        out += ln_gamma_half(a + 0.5 * (1.0 - j as f64));
    }
    out
}

/// The log of the Wishart prior on the `k` inverse covariance factors.
#[differentiate(reverse, hessian, wrt(sum_qs, qdiags, icf))]
#[must_use]
pub fn log_wishart_prior(
    p: usize,
    k: usize,
    wishart: &Wishart,
    sum_qs: &[f64],
    qdiags: &[f64],
    icf: &[f64],
) -> f64 {
    let n = p + wishart.m + 1;
    let icf_sz = p * (p + 1) / 2;

    let c = n as f64 * p as f64 * (wishart.gamma.ln() - 0.5 * 2.0_f64.ln())
        - log_gamma_distrib(0.5 * n as f64, p);

    let mut out = 0.0;
    for ik in 0..k {
        let frobenius = sqnorm(&qdiags[ik * p..(ik + 1) * p])
            + sqnorm(&icf[ik * icf_sz + p..(ik + 1) * icf_sz]);
        out += 0.5 * wishart.gamma * wishart.gamma * frobenius - wishart.m as f64 * sum_qs[ik];
    }

    out - k as f64 * c
}

/// The negative log-likelihood of `n` points `x` (`d` coordinates each) under a mixture of `k`
/// Gaussians, plus the Wishart prior: ADBench's `gmm_objective`. `alphas` are the `k`
/// unnormalised log weights, `means` the `d · k` means, `icf` the `d (d + 1) / 2 · k` inverse
/// covariance factors (per component, the log-diagonal then the strictly lower part by columns).
#[differentiate(reverse, hessian, wrt(alphas, means, icf))]
#[must_use]
pub fn gmm_objective(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    wishart: &Wishart,
) -> f64 {
    let constant = -(n as f64) * d as f64 * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let icf_sz = d * (d + 1) / 2;

    let mut qdiags = vec![0.0; d * k];
    let mut sum_qs = vec![0.0; k];
    let mut xcentered = vec![0.0; d];
    let mut qxcentered = vec![0.0; d];
    let mut main_term = vec![0.0; k];

    preprocess_qs(d, k, icf, &mut sum_qs, &mut qdiags);

    let mut slse = 0.0;
    for ix in 0..n {
        for ik in 0..k {
            subtract(
                &x[ix * d..(ix + 1) * d],
                &means[ik * d..(ik + 1) * d],
                &mut xcentered,
            );
            qtimesx(
                &qdiags[ik * d..(ik + 1) * d],
                &icf[ik * icf_sz + d..(ik + 1) * icf_sz],
                &xcentered,
                &mut qxcentered,
            );
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqnorm(&qxcentered);
        }
        slse += logsumexp(&main_term);
    }

    let lse_alphas = logsumexp(alphas);

    let mut err = constant + slse - n as f64 * lse_alphas;

    err += log_wishart_prior(d, k, wishart, &sum_qs, &qdiags, icf);
    err
}

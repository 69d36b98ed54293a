//! Small numerical programs as Rust users write them, each differentiated as written and checked
//! against oracles that do not go through the macro: gradients derived by hand where they are
//! short, fourth-order central finite differences of the original function otherwise (for
//! gradients, directional derivatives, vector-Jacobian products and Jacobians), and, for second
//! order, central differences of a gradient that was itself checked against such an oracle.
//!
//! The programs: a classical fourth-order Runge–Kutta integrator of the Lotka–Volterra equations
//! (with a right-hand side that writes into a buffer, as `ode_solvers` and Numerical Recipes'
//! `derivs` do); the Lennard-Jones potential energy of a cluster of atoms; a least-squares
//! polynomial fit evaluated by Horner's scheme; L2-regularised logistic regression; a
//! one-dimensional Gaussian mixture log-likelihood through a log-sum-exp helper; bilinear
//! interpolation on a grid; a damped spring integrated by semi-implicit Euler in a `while` loop;
//! Huber and pinball (quantile) regression losses; a discrete-time survival model through prefix
//! sums and products; a pendulum's energy as a method and Newton's method in a `loop`; the
//! complex quadratic map of Mandelbrot-set programs through a helper with two outputs; the
//! Black–Scholes call price with the Abramowitz–Stegun 26.2.17 normal CDF (Hull, *Options,
//! Futures and Other Derivatives*, ch. 15); the forward kinematics of a two-link planar arm
//! (Spong, Hutchinson and Vidyasagar, *Robot Modeling and Control*, §4); trapezoid-rule and
//! composite Simpson quadrature; Holt's linear exponential smoothing (Hyndman and
//! Athanasopoulos, *Forecasting: Principles and Practice*, §8.2); a tiered electricity tariff; a
//! first-passage simulation that returns from inside its loop; an `f32` leapfrog; minibatch least
//! squares through `f_grad_into`; an AR(1) likelihood as a method; a pseudo-Huber location
//! estimate; a chain of masses whose force helpers accumulate into a shared buffer; and the
//! sample moments of a slice through `f_jacobian_into` and `f_vjp_into`.
#![allow(
    // Dimensions and indices as `f64`, as the definitions read them; they are small.
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    // Differentiated loops index their arrays, as the textbook versions do.
    clippy::needless_range_loop
)]

use std::f64::consts::PI;

use autodiff::{differentiate, sigmoid, softplus};

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::oracles::{
    EXACT, FD, assert_near, check_hessian, direction, dot, fd_directional, fd_gradient, fd_jacobian,
};

// ---------------------------------------------------------------------------------------------
// 1. Runge–Kutta 4 on Lotka–Volterra, with a right-hand side that writes into a buffer
// ---------------------------------------------------------------------------------------------

/// dx/dt = αx − βxy, dy/dt = δxy − γy, written into `dy` as an ODE library's callback does.
#[differentiate(reverse, forward, hessian)]
fn lotka_volterra(y: &[f64], p: &[f64], dy: &mut [f64]) {
    let (alpha, beta, delta, gamma) = (p[0], p[1], p[2], p[3]);
    dy[0] = alpha * y[0] - beta * y[0] * y[1];
    dy[1] = delta * y[0] * y[1] - gamma * y[1];
}

/// Classical RK4 from `y0` for `steps` steps of size `h`, accumulating the squared misfit to
/// observations of both populations taken after every step.
#[differentiate(reverse, forward, hessian, wrt(y0, p, h))]
fn rk4_misfit(y0: &[f64], p: &[f64], h: f64, observed: &[f64]) -> f64 {
    let n = y0.len();
    let steps = observed.len() / n;
    let mut y = y0.to_vec();
    let mut k1 = vec![0.0; n];
    let mut k2 = vec![0.0; n];
    let mut k3 = vec![0.0; n];
    let mut k4 = vec![0.0; n];
    let mut tmp = vec![0.0; n];
    let mut misfit = 0.0;
    for step in 0..steps {
        lotka_volterra(&y, p, &mut k1);
        for i in 0..n {
            tmp[i] = y[i] + 0.5 * h * k1[i];
        }
        lotka_volterra(&tmp, p, &mut k2);
        for i in 0..n {
            tmp[i] = y[i] + 0.5 * h * k2[i];
        }
        lotka_volterra(&tmp, p, &mut k3);
        for i in 0..n {
            tmp[i] = y[i] + h * k3[i];
        }
        lotka_volterra(&tmp, p, &mut k4);
        for i in 0..n {
            y[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
        for i in 0..n {
            let r = y[i] - observed[step * n + i];
            misfit += r * r;
        }
    }
    misfit
}

const LV_OBSERVED: [f64; 8] = [1.1, 0.8, 1.3, 0.75, 1.45, 0.7, 1.6, 0.72];

fn rk4_flat(q: &[f64]) -> f64 {
    rk4_misfit(&q[0..2], &q[2..6], q[6], &LV_OBSERVED)
}

fn rk4_grad_flat(q: &[f64]) -> Vec<f64> {
    let (_, dy0, dp, dh) = rk4_misfit_grad(&q[0..2], &q[2..6], q[6], &LV_OBSERVED);
    let mut g = dy0;
    g.extend(dp);
    g.push(dh);
    g
}

#[test]
fn rk4_lotka_volterra() {
    let points = [
        [1.0, 0.9, 0.7, 0.4, 0.3, 0.5, 0.2],
        [0.8, 1.2, 1.1, 0.6, 0.2, 0.9, 0.1],
        [1.5, 0.5, 0.4, 0.3, 0.8, 0.6, 0.25],
    ];
    for q in &points {
        let (value, ..) = rk4_misfit_grad(&q[0..2], &q[2..6], q[6], &LV_OBSERVED);
        assert_eq!(value, rk4_flat(q));
        let g = rk4_grad_flat(q);
        assert_near("rk4 grad", &g, &fd_gradient(rk4_flat, q), FD);

        let v = direction(7);
        let (vj, t) = rk4_misfit_jvp(
            &q[0..2],
            &v[0..2],
            &q[2..6],
            &v[2..6],
            q[6],
            v[6],
            &LV_OBSERVED,
        );
        assert_eq!(vj, value);
        let want = fd_directional(|x| vec![rk4_flat(x)], q, &v)[0];
        assert_near("rk4 jvp", &[t], &[want], FD);

        let (_, dy0, dp, dh, hv0, hvp, hvh) = rk4_misfit_hvp(
            &q[0..2],
            &v[0..2],
            &q[2..6],
            &v[2..6],
            q[6],
            v[6],
            &LV_OBSERVED,
        );
        let mut gh = dy0;
        gh.extend(dp);
        gh.push(dh);
        assert_near("rk4 hvp grad", &gh, &g, 1e-12);
        let mut hv = hv0;
        hv.extend(hvp);
        hv.push(hvh);
        let want = fd_directional(rk4_grad_flat, q, &v);
        assert_near("rk4 hvp", &hv, &want, 1e-5);

        let (_, _, _, _, hess) = rk4_misfit_hessian(&q[0..2], &q[2..6], q[6], &LV_OBSERVED);
        check_hessian("rk4 hessian", &hess, rk4_grad_flat, q);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Lennard-Jones cluster energy
// ---------------------------------------------------------------------------------------------

/// E = Σ_{i<j} 4ε((σ/r)¹² − (σ/r)⁶) over atoms stored as consecutive (x, y, z).
#[differentiate(reverse, forward, hessian)]
fn lennard_jones(pos: &[f64], epsilon: f64, sigma: f64) -> f64 {
    let mut energy = 0.0;
    for (i, a) in pos.chunks_exact(3).enumerate() {
        energy += pos
            .chunks_exact(3)
            .skip(i + 1)
            .map(|b| {
                let r2 = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2);
                let s6 = (sigma * sigma / r2).powi(3);
                4.0 * epsilon * (s6 * s6 - s6)
            })
            .sum::<f64>();
    }
    energy
}

/// The gradient by hand: with u(r²) = 4ε(σ¹²r⁻¹² − σ⁶r⁻⁶), ∂E/∂aₖ = Σ 2(aₖ − bₖ) u'(r²) over the others b,
/// u'(s) = 4ε(−6σ¹²s⁻⁷ + 3σ⁶s⁻⁴); ∂E/∂ε = E/ε; ∂E/∂σ = Σ 4ε(12σ¹¹r⁻¹² − 6σ⁵r⁻⁶).
fn lennard_jones_by_hand(pos: &[f64], epsilon: f64, sigma: f64) -> Vec<f64> {
    let n = pos.len() / 3;
    let mut g = vec![0.0; pos.len() + 2];
    for i in 0..n {
        for j in i + 1..n {
            let d: Vec<f64> = (0..3).map(|k| pos[3 * i + k] - pos[3 * j + k]).collect();
            let s = d.iter().map(|x| x * x).sum::<f64>();
            let du = 4.0
                * epsilon
                * (-6.0 * sigma.powi(12) / s.powi(7) + 3.0 * sigma.powi(6) / s.powi(4));
            for k in 0..3 {
                g[3 * i + k] += 2.0 * d[k] * du;
                g[3 * j + k] -= 2.0 * d[k] * du;
            }
            g[pos.len()] += 4.0 * (sigma.powi(12) / s.powi(6) - sigma.powi(6) / s.powi(3));
            g[pos.len() + 1] += 4.0
                * epsilon
                * (12.0 * sigma.powi(11) / s.powi(6) - 6.0 * sigma.powi(5) / s.powi(3));
        }
    }
    g
}

#[test]
fn lennard_jones_cluster() {
    let clusters: [&[f64]; 3] = [
        &[0.0, 0.0, 0.0, 1.1, 0.1, -0.05],
        &[
            0.0, 0.0, 0.0, 1.1, 0.1, -0.05, 0.5, 0.95, 0.1, -0.2, 0.4, 0.9,
        ],
        &[0.3, -0.2, 0.1, 1.4, 0.0, 0.2, 0.6, 1.2, -0.3],
    ];
    for pos in clusters {
        let (eps, sig) = (0.8, 0.95);
        let (value, dpos, deps, dsig) = lennard_jones_grad(pos, eps, sig);
        assert_eq!(value, lennard_jones(pos, eps, sig));
        let mut g = dpos;
        g.push(deps);
        g.push(dsig);
        assert_near("lj grad", &g, &lennard_jones_by_hand(pos, eps, sig), EXACT);
        let mut p = pos.to_vec();
        p.push(eps);
        p.push(sig);
        let m = pos.len();
        let flat = |q: &[f64]| lennard_jones(&q[..m], q[m], q[m + 1]);
        assert_near("lj fd", &g, &fd_gradient(flat, &p), FD);

        let v = direction(m + 2);
        let (_, t) = lennard_jones_jvp(pos, &v[..m], eps, v[m], sig, v[m + 1]);
        assert_near("lj jvp", &[t], &[dot(&g, &v)], 1e-9);

        let by_hand = |q: &[f64]| lennard_jones_by_hand(&q[..m], q[m], q[m + 1]);
        let (_, _, _, _, hv, hv_eps, hv_sig) =
            lennard_jones_hvp(pos, &v[..m], eps, v[m], sig, v[m + 1]);
        let mut hv = hv;
        hv.push(hv_eps);
        hv.push(hv_sig);
        assert_near("lj hvp", &hv, &fd_directional(by_hand, &p, &v), 1e-6);
        let (_, _, _, _, hess) = lennard_jones_hessian(pos, eps, sig);
        check_hessian("lj hessian", &hess, by_hand, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Polynomial least squares through Horner's scheme
// ---------------------------------------------------------------------------------------------

/// Mean squared residual of the polynomial Σₖ cₖ xᵏ, evaluated by Horner's rule as a fold.
#[differentiate(reverse, forward, hessian, wrt(coeffs))]
fn polyfit_loss(coeffs: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| {
            let prediction = coeffs.iter().rev().fold(0.0, |acc, &c| acc * x + c);
            (prediction - y).powi(2)
        })
        .sum::<f64>()
        / xs.len() as f64
}

#[test]
fn horner_polynomial_fit() {
    let xs = [-1.0, -0.4, 0.1, 0.6, 1.3, 2.0];
    let ys = [0.5, -0.2, 0.3, 1.1, 2.4, 3.9];
    for coeffs in [
        vec![0.1, 0.5, -0.3],
        vec![1.0, -2.0, 0.5, 0.25],
        vec![0.0, 0.0, 0.0, 0.0, 0.1],
    ] {
        let n = xs.len() as f64;
        let m = coeffs.len();
        let eval = |x: f64| (0..m).map(|k| coeffs[k] * x.powi(k as i32)).sum::<f64>();
        // ∂/∂cₖ = (2/n) Σ rᵢ xᵢᵏ; ∂²/∂cⱼ∂cₖ = (2/n) Σ xᵢʲ⁺ᵏ.
        let want: Vec<f64> = (0..m)
            .map(|k| {
                xs.iter()
                    .zip(&ys)
                    .map(|(&x, &y)| 2.0 * (eval(x) - y) * x.powi(k as i32))
                    .sum::<f64>()
                    / n
            })
            .collect();
        let (value, g) = polyfit_loss_grad(&coeffs, &xs, &ys);
        assert_eq!(value, polyfit_loss(&coeffs, &xs, &ys));
        assert_near("polyfit grad", &g, &want, EXACT);
        let v = direction(m);
        let (_, t) = polyfit_loss_jvp(&coeffs, &v, &xs, &ys);
        assert_near("polyfit jvp", &[t], &[dot(&want, &v)], EXACT);
        let hand: Vec<f64> = (0..m * m)
            .map(|jk| {
                let (j, k) = (jk / m, jk % m);
                xs.iter()
                    .map(|&x| 2.0 * x.powi((j + k) as i32))
                    .sum::<f64>()
                    / n
            })
            .collect();
        let (_, g2, hv) = polyfit_loss_hvp(&coeffs, &v, &xs, &ys);
        assert_near("polyfit hvp grad", &g2, &want, EXACT);
        let want_hv: Vec<f64> = (0..m).map(|j| dot(&hand[j * m..(j + 1) * m], &v)).collect();
        assert_near("polyfit hvp", &hv, &want_hv, EXACT);
        let (_, _, hess) = polyfit_loss_hessian(&coeffs, &xs, &ys);
        assert_near("polyfit hessian", &hess, &hand, EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. L2-regularised logistic regression over the rows of a design matrix
// ---------------------------------------------------------------------------------------------

/// (1/n) Σ (softplus(zᵢ) − yᵢ zᵢ) + λ‖w‖², zᵢ = xᵢ·w + b, rows taken with `chunks_exact`.
#[differentiate(reverse, forward, hessian, wrt(w, b))]
fn logistic_loss(w: &[f64], b: f64, x: &[f64], y: &[f64], lambda: f64) -> f64 {
    let d = w.len();
    let mut loss = 0.0;
    for (row, &label) in x.chunks_exact(d).zip(y) {
        let z = row.iter().zip(w).map(|(xi, wi)| xi * wi).sum::<f64>() + b;
        loss += softplus(z) - label * z;
    }
    loss / y.len() as f64 + lambda * w.iter().map(|wi| wi * wi).sum::<f64>()
}

#[test]
fn logistic_regression_with_ridge() {
    let x = [
        0.5, -1.2, 0.3, 1.5, 0.2, -0.7, -0.3, 0.8, 1.1, 0.9, -0.4, 0.0, -1.5, 0.6, 0.2,
    ];
    let y = [1.0, 0.0, 1.0, 1.0, 0.0];
    let lambda = 0.1;
    for (w, b) in [
        ([0.2, -0.1, 0.4], 0.05),
        ([1.5, 2.0, -1.0], -0.7),
        ([0.0, 0.0, 0.0], 0.0),
    ] {
        let n = y.len() as f64;
        // ∇ = (1/n) Σ (σ(z) − y)(x, 1) + (2λw, 0); H = (1/n) Σ σ(1−σ)(x,1)(x,1)ᵀ + 2λ diag(1,1,1,0).
        let mut want = vec![0.0; 4];
        let mut hand = vec![0.0; 16];
        for (row, &label) in x.chunks_exact(3).zip(&y) {
            let z = dot(row, &w) + b;
            let s = 1.0 / (1.0 + (-z).exp());
            let xa = [row[0], row[1], row[2], 1.0];
            for j in 0..4 {
                want[j] += (s - label) * xa[j] / n;
                for k in 0..4 {
                    hand[j * 4 + k] += s * (1.0 - s) * xa[j] * xa[k] / n;
                }
            }
        }
        for j in 0..3 {
            want[j] += 2.0 * lambda * w[j];
            hand[j * 4 + j] += 2.0 * lambda;
        }
        let (value, dw, db) = logistic_loss_grad(&w, b, &x, &y, lambda);
        assert_eq!(value, logistic_loss(&w, b, &x, &y, lambda));
        let mut g = dw;
        g.push(db);
        assert_near("logistic grad", &g, &want, EXACT);
        let v = direction(4);
        let (_, t) = logistic_loss_jvp(&w, &v[..3], b, v[3], &x, &y, lambda);
        assert_near("logistic jvp", &[t], &[dot(&want, &v)], EXACT);
        let (_, _, _, hess) = logistic_loss_hessian(&w, b, &x, &y, lambda);
        assert_near("logistic hessian", &hess, &hand, EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Gaussian mixture log-likelihood through a log-sum-exp helper
// ---------------------------------------------------------------------------------------------

/// log Σ exp(vᵢ), shifted by the maximum.
#[differentiate(reverse, forward, hessian)]
fn logsumexp(v: &[f64]) -> f64 {
    let m = v.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// −Σᵢ log Σₖ πₖ N(xᵢ; μₖ, σₖ²), π = softmax(logits), σ = exp(log σ); the per-point
/// component terms written into a local array overwritten for every data point.
#[differentiate(reverse, forward, hessian, wrt(logits, means, log_sigmas))]
fn gmm_nll(logits: &[f64; 3], means: &[f64; 3], log_sigmas: &[f64; 3], data: &[f64]) -> f64 {
    let norm = logsumexp(logits);
    let mut comp = [0.0; 3];
    let mut nll = 0.0;
    for &x in data {
        for k in 0..3 {
            let z = (x - means[k]) / log_sigmas[k].exp();
            comp[k] = logits[k] - norm - log_sigmas[k] - 0.5 * z * z - 0.5 * (2.0 * PI).ln();
        }
        nll -= logsumexp(&comp);
    }
    nll
}

fn gmm_flat(p: &[f64], data: &[f64]) -> f64 {
    gmm_nll(
        &[p[0], p[1], p[2]],
        &[p[3], p[4], p[5]],
        &[p[6], p[7], p[8]],
        data,
    )
}

/// The gradient by hand, through the responsibilities γᵢₖ: ∂/∂logitₖ = Σᵢ (πₖ − γᵢₖ),
/// ∂/∂μₖ = −Σᵢ γᵢₖ zᵢₖ/σₖ, ∂/∂log σₖ = Σᵢ γᵢₖ (1 − zᵢₖ²).
fn gmm_by_hand(p: &[f64], data: &[f64]) -> Vec<f64> {
    let mx = p[..3].iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let zsum: f64 = p[..3].iter().map(|l| (l - mx).exp()).sum();
    let pi: Vec<f64> = p[..3].iter().map(|l| (l - mx).exp() / zsum).collect();
    let mut g = vec![0.0; 9];
    for &x in data {
        let dens: Vec<f64> = (0..3)
            .map(|k| {
                let s = p[6 + k].exp();
                let z = (x - p[3 + k]) / s;
                pi[k] * (-0.5 * z * z).exp() / (s * (2.0 * PI).sqrt())
            })
            .collect();
        let total: f64 = dens.iter().sum();
        for k in 0..3 {
            let gamma = dens[k] / total;
            let s = p[6 + k].exp();
            let z = (x - p[3 + k]) / s;
            g[k] += pi[k] - gamma;
            g[3 + k] -= gamma * z / s;
            g[6 + k] += gamma * (1.0 - z * z);
        }
    }
    g
}

#[test]
fn gaussian_mixture_likelihood() {
    let data = [-1.2, -0.8, 0.1, 0.3, 0.4, 1.9, 2.2, 2.8];
    for p in [
        [0.0, 0.0, 0.0, -1.0, 0.3, 2.0, 0.0, -0.5, 0.2],
        [0.5, -0.3, 1.2, -0.9, 0.5, 2.5, -0.3, 0.1, -0.2],
        // Two equal logits: the maximum in `logsumexp` is a tie.
        [1.0, 1.0, -0.5, 0.0, 0.2, 0.4, 0.3, 0.3, 0.3],
    ] {
        let (logits, means, log_sigmas) =
            ([p[0], p[1], p[2]], [p[3], p[4], p[5]], [p[6], p[7], p[8]]);
        let (value, dl, dm, ds) = gmm_nll_grad(&logits, &means, &log_sigmas, &data);
        assert_eq!(value, gmm_flat(&p, &data));
        let g: Vec<f64> = dl.iter().chain(&dm).chain(&ds).copied().collect();
        assert_near("gmm grad", &g, &gmm_by_hand(&p, &data), 1e-9);
        assert_near("gmm fd", &g, &fd_gradient(|q| gmm_flat(q, &data), &p), FD);
        let v = direction(9);
        let (_, t) = gmm_nll_jvp(
            &logits,
            &[v[0], v[1], v[2]],
            &means,
            &[v[3], v[4], v[5]],
            &log_sigmas,
            &[v[6], v[7], v[8]],
            &data,
        );
        assert_near("gmm jvp", &[t], &[dot(&g, &v)], 1e-9);
        let (_, _, _, _, hess) = gmm_nll_hessian(&logits, &means, &log_sigmas, &data);
        let flat: Vec<f64> = hess.iter().flatten().copied().collect();
        check_hessian("gmm hessian", &flat, |q| gmm_by_hand(q, &data), &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Bilinear interpolation on a regular grid
// ---------------------------------------------------------------------------------------------

/// Bilinear interpolation of `grid` (`nx` columns, `ny` rows, unit spacing, row-major) at
/// (x, y); zero outside the grid, returned early.
#[differentiate(reverse, forward, hessian)]
fn bilinear(grid: &[f64], nx: usize, ny: usize, x: f64, y: f64) -> f64 {
    if x < 0.0 || y < 0.0 || x > (nx - 1) as f64 || y > (ny - 1) as f64 {
        return 0.0;
    }
    let i = (x.floor() as usize).min(nx - 2);
    let j = (y.floor() as usize).min(ny - 2);
    let tx = x - i as f64;
    let ty = y - j as f64;
    let v00 = grid[j * nx + i];
    let v10 = grid[j * nx + i + 1];
    let v01 = grid[(j + 1) * nx + i];
    let v11 = grid[(j + 1) * nx + i + 1];
    (1.0 - tx) * (1.0 - ty) * v00 + tx * (1.0 - ty) * v10 + (1.0 - tx) * ty * v01 + tx * ty * v11
}

#[test]
fn bilinear_interpolation() {
    let (nx, ny) = (4, 3);
    let grid: Vec<f64> = (0..nx * ny)
        .map(|k| ((k * 7 % 5) as f64 - 2.0) * 0.3 + 0.1 * k as f64)
        .collect();
    for (x, y) in [
        (0.3, 0.4),
        (1.7, 1.2),
        (2.6, 0.9),
        (2.9, 1.95),
        (-0.5, 1.0),
        (1.0, 2.5),
    ] {
        let (value, dgrid, dx, dy) = bilinear_grad(&grid, nx, ny, x, y);
        assert_eq!(value, bilinear(&grid, nx, ny, x, y));
        // By hand: the weights of the four corners, and the slopes along x and y.
        let mut want = vec![0.0; nx * ny + 2];
        let inside = (0.0..=(nx - 1) as f64).contains(&x) && (0.0..=(ny - 1) as f64).contains(&y);
        if inside {
            let (i, j) = ((x as usize).min(nx - 2), (y as usize).min(ny - 2));
            let (tx, ty) = (x - i as f64, y - j as f64);
            let at = |a: usize, b: usize| grid[(j + b) * nx + i + a];
            want[j * nx + i] = (1.0 - tx) * (1.0 - ty);
            want[j * nx + i + 1] = tx * (1.0 - ty);
            want[(j + 1) * nx + i] = (1.0 - tx) * ty;
            want[(j + 1) * nx + i + 1] = tx * ty;
            want[nx * ny] = (1.0 - ty) * (at(1, 0) - at(0, 0)) + ty * (at(1, 1) - at(0, 1));
            want[nx * ny + 1] = (1.0 - tx) * (at(0, 1) - at(0, 0)) + tx * (at(1, 1) - at(1, 0));
        }
        let mut g = dgrid;
        g.push(dx);
        g.push(dy);
        assert_near("bilinear grad", &g, &want, EXACT);
        let v = direction(nx * ny + 2);
        let (_, t) = bilinear_jvp(
            &grid,
            &v[..nx * ny],
            nx,
            ny,
            x,
            v[nx * ny],
            y,
            v[nx * ny + 1],
        );
        assert_near("bilinear jvp", &[t], &[dot(&want, &v)], EXACT);
        // The Hessian: ∂²/∂x∂y = v00 − v10 − v01 + v11, ∂²/∂x∂g and ∂²/∂y∂g are ± the other
        // weight's slope, zero elsewhere. Checked against differences of the gradient by hand.
        let mut p = grid.clone();
        p.push(x);
        p.push(y);
        let hand = |q: &[f64]| {
            let (_, mut g, dx, dy) =
                bilinear_grad(&q[..nx * ny], nx, ny, q[nx * ny], q[nx * ny + 1]);
            g.push(dx);
            g.push(dy);
            g
        };
        let (_, _, _, _, hess) = bilinear_hessian(&grid, nx, ny, x, y);
        check_hessian("bilinear hessian", &hess, hand, &p);
        let (_, _, _, _, hv, hvx, hvy) = bilinear_hvp(
            &grid,
            &v[..nx * ny],
            nx,
            ny,
            x,
            v[nx * ny],
            y,
            v[nx * ny + 1],
        );
        let mut hv = hv;
        hv.push(hvx);
        hv.push(hvy);
        let n = nx * ny + 2;
        let want_hv: Vec<f64> = (0..n).map(|r| dot(&hess[r * n..(r + 1) * n], &v)).collect();
        assert_near("bilinear hvp", &hv, &want_hv, EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 7. A damped spring, semi-implicit Euler in a `while` loop, two outputs
// ---------------------------------------------------------------------------------------------

/// m x'' = −k x − c x', stepped with symplectic Euler until `t_end`; returns (x, v).
#[differentiate(reverse, forward, wrt(x0, v0, k, c))]
fn damped_spring(x0: f64, v0: f64, k: f64, c: f64, t_end: f64) -> (f64, f64) {
    let mass = 1.5;
    let dt = 0.01;
    let mut t = 0.0;
    let mut x = x0;
    let mut v = v0;
    while t < t_end {
        let a = (-k * x - c * v) / mass;
        v += a * dt;
        x += v * dt;
        t += dt;
    }
    (x, v)
}

#[test]
fn damped_spring_with_while() {
    for (p, t_end) in [
        ([1.0, 0.0, 4.0, 0.3], 1.0),
        ([0.2, -1.0, 10.0, 1.5], 0.5),
        ([0.5, 0.5, 1.0, 0.0], 0.0),
    ] {
        let flat = |q: &[f64]| {
            let (x, v) = damped_spring(q[0], q[1], q[2], q[3], t_end);
            vec![x, v]
        };
        let jac_fd = fd_jacobian(flat, &p);
        let (out, jac) = damped_spring_jacobian(p[0], p[1], p[2], p[3], t_end);
        assert_eq!(out, damped_spring(p[0], p[1], p[2], p[3], t_end));
        for i in 0..2 {
            assert_near("spring jacobian", &jac[i], &jac_fd[i], FD);
        }
        let seed = (0.8, -0.6);
        let (out, a, b, c, d) = damped_spring_vjp(p[0], p[1], p[2], p[3], t_end, seed);
        assert_eq!(out, damped_spring(p[0], p[1], p[2], p[3], t_end));
        let want: Vec<f64> = (0..4)
            .map(|j| seed.0 * jac_fd[0][j] + seed.1 * jac_fd[1][j])
            .collect();
        assert_near("spring vjp", &[a, b, c, d], &want, FD);
        let v = direction(4);
        let (_, t) = damped_spring_jvp(p[0], v[0], p[1], v[1], p[2], v[2], p[3], v[3], t_end);
        let want = fd_directional(flat, &p, &v);
        assert_near("spring jvp", &[t.0, t.1], &want, FD);
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Robust regression: Huber loss (`match` with guards) and pinball loss (`match` on a bool)
// ---------------------------------------------------------------------------------------------

/// Σ `huber_δ`(yᵢ − θ₀ − θ₁xᵢ): quadratic within δ, linear beyond.
#[differentiate(reverse, forward, hessian, wrt(theta))]
fn huber_regression(theta: &[f64; 2], xs: &[f64], ys: &[f64], delta: f64) -> f64 {
    let mut total = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let r = y - (theta[0] + theta[1] * x);
        total += match r.abs() {
            a if a <= delta => 0.5 * r * r,
            a => delta * (a - 0.5 * delta),
        };
    }
    total
}

/// Σ ρ(yᵢ − θ₀ − θ₁xᵢ) with ρ(r) = τr for r ≥ 0 and (τ − 1)r otherwise.
// `match` on a bool is what this program tests.
#[allow(clippy::match_bool)]
#[differentiate(reverse, forward, wrt(theta, tau))]
fn pinball_regression(theta: [f64; 2], tau: f64, xs: &[f64], ys: &[f64]) -> f64 {
    xs.iter()
        .zip(ys)
        .map(|(&x, &y)| {
            let r = y - theta[0] - theta[1] * x;
            match r >= 0.0 {
                true => tau * r,
                false => (tau - 1.0) * r,
            }
        })
        .sum()
}

#[test]
fn huber_and_pinball_regression() {
    let xs = [-1.0, -0.3, 0.2, 0.9, 1.4, 2.2];
    let ys = [-1.8, -0.4, 0.7, 1.1, 3.5, 3.0];
    let delta = 0.5;
    // Points whose residuals fall in both regions of the Huber loss.
    for theta in [[0.1, 1.5], [0.0, 0.0], [0.3, 1.7], [-2.0, 3.0]] {
        let mut want = [0.0; 2];
        let mut hand = [0.0; 4];
        for (&x, &y) in xs.iter().zip(&ys) {
            let r: f64 = y - theta[0] - theta[1] * x;
            assert!((r.abs() - delta).abs() > 1e-3, "a point on the kink");
            let psi = if r.abs() <= delta {
                r
            } else {
                delta * r.signum()
            };
            let w = if r.abs() <= delta { 1.0 } else { 0.0 };
            want[0] -= psi;
            want[1] -= psi * x;
            hand[0] += w;
            hand[1] += w * x;
            hand[2] += w * x;
            hand[3] += w * x * x;
        }
        let (value, g) = huber_regression_grad(&theta, &xs, &ys, delta);
        assert_eq!(value, huber_regression(&theta, &xs, &ys, delta));
        assert_near("huber grad", &g, &want, EXACT);
        let (_, t) = huber_regression_jvp(&theta, &[0.3, -0.7], &xs, &ys, delta);
        assert_near("huber jvp", &[t], &[0.3 * want[0] - 0.7 * want[1]], EXACT);
        let (_, _, hess) = huber_regression_hessian(&theta, &xs, &ys, delta);
        assert_near("huber hessian", &hess.concat(), &hand, EXACT);
        let (_, _, hv) = huber_regression_hvp(&theta, &[0.3, -0.7], &xs, &ys, delta);
        let want_hv = [0.3 * hand[0] - 0.7 * hand[1], 0.3 * hand[2] - 0.7 * hand[3]];
        assert_near("huber hvp", &hv, &want_hv, EXACT);

        for tau in [0.1, 0.5, 0.9] {
            let mut want = [0.0; 3];
            for (&x, &y) in xs.iter().zip(&ys) {
                let r = y - theta[0] - theta[1] * x;
                let slope = if r >= 0.0 { tau } else { tau - 1.0 };
                want[0] -= slope;
                want[1] -= slope * x;
                want[2] += r;
            }
            let (value, g, dtau) = pinball_regression_grad(theta, tau, &xs, &ys);
            assert_eq!(value, pinball_regression(theta, tau, &xs, &ys));
            assert_near("pinball grad", &[g[0], g[1], dtau], &want, EXACT);
            let (_, t) = pinball_regression_jvp(theta, [0.3, -0.7], tau, 0.2, &xs, &ys);
            assert_near(
                "pinball jvp",
                &[t],
                &[0.3 * want[0] - 0.7 * want[1] + 0.2 * want[2]],
                EXACT,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Discrete-time survival: prefix sums of log-survival, and survival as a product
// ---------------------------------------------------------------------------------------------

/// Log-likelihood of event or censoring times under hazards hₜ = σ(aₜ):
/// log S(t) = Σ_{s<t} log(1 − hₛ) kept as a prefix sum in a `vec!` buffer; an event at t
/// contributes log S(t) + log hₜ, a censoring at t contributes log S(t + 1).
#[differentiate(reverse, forward, hessian, wrt(logits))]
fn survival_loglik(logits: &[f64], times: &[usize], observed: &[bool]) -> f64 {
    let n = logits.len();
    let mut log_surv = vec![0.0; n + 1];
    for t in 0..n {
        log_surv[t + 1] = log_surv[t] + (1.0 - sigmoid(logits[t])).ln();
    }
    let mut ll = 0.0;
    for (&t, &event) in times.iter().zip(observed) {
        ll += if event {
            log_surv[t] + sigmoid(logits[t]).ln()
        } else {
            log_surv[t + 1]
        };
    }
    ll
}

/// Expected number of periods survived, Σₖ Πⱼ<ₖ (1 − σ(aⱼ)), the products taken with
/// `take(k)` and `product`.
#[differentiate(reverse, forward, hessian)]
fn expected_lifetime(logits: &[f64]) -> f64 {
    let mut total = 0.0;
    for k in 0..=logits.len() {
        total += logits
            .iter()
            .take(k)
            .map(|&a| 1.0 - sigmoid(a))
            .product::<f64>();
    }
    total
}

#[test]
fn survival_models() {
    let times = [0, 2, 3, 1, 3, 2];
    let observed = [true, true, false, false, true, true];
    for logits in [
        vec![-1.0, -0.5, 0.2, 0.8],
        vec![0.3, -2.0, 1.0, -0.1],
        vec![0.0, 0.0, 0.0, 0.0],
    ] {
        let s = |a: f64| 1.0 / (1.0 + (-a).exp());
        // ∂ log(1 − σ(a))/∂a = −σ(a); ∂ log σ(a)/∂a = 1 − σ(a); second derivatives −σ(1 − σ).
        let mut want = vec![0.0; 4];
        let mut hand = vec![0.0; 16];
        for (&t, &event) in times.iter().zip(&observed) {
            let end = if event { t } else { t + 1 };
            for j in 0..end {
                want[j] -= s(logits[j]);
                hand[j * 5] -= s(logits[j]) * (1.0 - s(logits[j]));
            }
            if event {
                want[t] += 1.0 - s(logits[t]);
                hand[t * 5] -= s(logits[t]) * (1.0 - s(logits[t]));
            }
        }
        let (value, g) = survival_loglik_grad(&logits, &times, &observed);
        assert_eq!(value, survival_loglik(&logits, &times, &observed));
        assert_near("survival grad", &g, &want, EXACT);
        let v = direction(4);
        let (_, t) = survival_loglik_jvp(&logits, &v, &times, &observed);
        assert_near("survival jvp", &[t], &[dot(&want, &v)], EXACT);
        let (_, _, hess) = survival_loglik_hessian(&logits, &times, &observed);
        assert_near("survival hessian", &hess, &hand, EXACT);

        // Expected lifetime: ∂/∂aⱼ Πᵢ<ₖ (1 − σᵢ) = −σⱼ Πᵢ<ₖ (1 − σᵢ) for j < k.
        let mut want = vec![0.0; 4];
        for k in 0..=4 {
            let prod: f64 = logits[..k].iter().map(|&a| 1.0 - s(a)).product();
            for j in 0..k {
                want[j] -= s(logits[j]) * prod;
            }
        }
        let (value, g) = expected_lifetime_grad(&logits);
        assert_eq!(value, expected_lifetime(&logits));
        assert_near("lifetime grad", &g, &want, EXACT);
        assert_near(
            "lifetime fd",
            &g,
            &fd_gradient(expected_lifetime, &logits),
            FD,
        );
        let (_, t) = expected_lifetime_jvp(&logits, &v);
        assert_near("lifetime jvp", &[t], &[dot(&want, &v)], EXACT);
        let (_, _, hess) = expected_lifetime_hessian(&logits);
        check_hessian(
            "lifetime hessian",
            &hess,
            |q| expected_lifetime_grad(q).1,
            &logits,
        );
        let (_, _, hv) = expected_lifetime_hvp(&logits, &v);
        let want_hv: Vec<f64> = (0..4).map(|r| dot(&hess[r * 4..(r + 1) * 4], &v)).collect();
        assert_near("lifetime hvp", &hv, &want_hv, 1e-12);
    }
}

// ---------------------------------------------------------------------------------------------
// 10. A pendulum's energy as a method; Newton's method in a `loop`
// ---------------------------------------------------------------------------------------------

struct Pendulum {
    mass: f64,
    length: f64,
    gravity: f64,
}

impl Pendulum {
    /// E = ½ m l² ω² + m g l (1 − cos θ).
    #[differentiate(reverse, forward, hessian)]
    fn energy(&self, theta: f64, omega: f64) -> f64 {
        let kinetic = 0.5 * self.mass * self.length.powi(2) * omega * omega;
        let potential = self.mass * self.gravity * self.length * (1.0 - theta.cos());
        kinetic + potential
    }
}

/// The real root of x³ + a x − b (a > 0) by Newton's method from x = b / a, stopping when the
/// step is below 1e-14 or after 50 steps.
#[differentiate(reverse, forward, hessian)]
fn cubic_root(a: f64, b: f64) -> f64 {
    let mut x = b / a;
    let mut iterations = 0;
    loop {
        let step = (x * x * x + a * x - b) / (3.0 * x * x + a);
        x -= step;
        iterations += 1;
        if step.abs() < 1e-14 || iterations == 50 {
            break;
        }
    }
    x
}

#[test]
fn pendulum_energy_and_newton_root() {
    let pend = Pendulum {
        mass: 1.3,
        length: 0.7,
        gravity: 9.81,
    };
    for (theta, omega) in [(0.3_f64, -1.2), (2.5, 0.4), (0.0, 0.0)] {
        let (m, l, g) = (pend.mass, pend.length, pend.gravity);
        let want = [m * g * l * theta.sin(), m * l * l * omega];
        let (value, dt, dw) = Pendulum::energy_grad(&pend, theta, omega);
        assert_eq!(value, pend.energy(theta, omega));
        assert_near("pendulum grad", &[dt, dw], &want, EXACT);
        let (_, t) = Pendulum::energy_jvp(&pend, theta, 0.4, omega, -0.9);
        assert_near(
            "pendulum jvp",
            &[t],
            &[0.4 * want[0] - 0.9 * want[1]],
            EXACT,
        );
        let (_, _, _, hess) = Pendulum::energy_hessian(&pend, theta, omega);
        let hand = [m * g * l * theta.cos(), 0.0, 0.0, m * l * l];
        assert_near("pendulum hessian", &hess.concat(), &hand, EXACT);
    }
    // The implicit function theorem at the converged root: F(x, a, b) = x³ + a x − b = 0 gives
    // ∂x/∂a = −x / F', ∂x/∂b = 1 / F', F' = 3x² + a; and the second derivatives by
    // differentiating those once more along the root.
    for (a, b) in [(1.0, 2.0), (0.5, -3.0), (4.0, 0.1)] {
        let x = cubic_root(a, b);
        assert!((x * x * x + a * x - b).abs() < 1e-12);
        let fp = 3.0 * x * x + a;
        let (xa, xb) = (-x / fp, 1.0 / fp);
        let (value, da, db) = cubic_root_grad(a, b);
        assert_eq!(value, x);
        assert_near("newton grad", &[da, db], &[xa, xb], 1e-9);
        let (_, t) = cubic_root_jvp(a, 0.6, b, -0.2);
        assert_near("newton jvp", &[t], &[0.6 * xa - 0.2 * xb], 1e-9);
        // x_b = 1/F'  ⇒ x_bb = −6x x_b / F'²;  x_ab = −(6x x_a + 1) / F'²;
        // x_a = −x/F' ⇒ x_aa = −(x_a F' − x (6x x_a + 1)) / F'².
        let xbb = -6.0 * x * xb / (fp * fp);
        let xab = -(6.0 * x * xa + 1.0) / (fp * fp);
        let xaa = -(xa * fp - x * (6.0 * x * xa + 1.0)) / (fp * fp);
        let (_, _, _, hess) = cubic_root_hessian(a, b);
        assert_near(
            "newton hessian",
            &hess.concat(),
            &[xaa, xab, xab, xbb],
            1e-8,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 11. Iterating a complex quadratic map through a helper with two outputs
// ---------------------------------------------------------------------------------------------

/// (a + ib)² + (c + id).
#[differentiate(reverse, forward, hessian)]
fn square_plus(a: f64, b: f64, c: f64, d: f64) -> (f64, f64) {
    (a * a - b * b + c, 2.0 * a * b + d)
}

/// |zₙ|² after `n` steps of z ← z² + c from z₀ = 0, as a Mandelbrot-set program iterates.
#[differentiate(reverse, forward, hessian)]
fn quadratic_map(cr: f64, ci: f64, n: usize) -> f64 {
    let mut zr = 0.0;
    let mut zi = 0.0;
    for _ in 0..n {
        let (re, im) = square_plus(zr, zi, cr, ci);
        zr = re;
        zi = im;
    }
    zr * zr + zi * zi
}

/// The same iteration in dual numbers by hand: (z, ∂z/∂c) in complex arithmetic, with
/// ∂z' = 2 z ∂z + 1; |z|² has gradient (2 Re(z̄ ∂z), 2 Im(z̄ ∂z)) along (∂cr, ∂ci) = (1, i).
fn quadratic_map_by_hand(cr: f64, ci: f64, n: usize) -> [f64; 2] {
    let (mut zr, mut zi, mut dr, mut di) = (0.0, 0.0, 0.0, 0.0);
    for _ in 0..n {
        let (ndr, ndi) = (2.0 * (zr * dr - zi * di) + 1.0, 2.0 * (zr * di + zi * dr));
        let (nzr, nzi) = (zr * zr - zi * zi + cr, 2.0 * zr * zi + ci);
        (zr, zi, dr, di) = (nzr, nzi, ndr, ndi);
    }
    // ∂|z|²/∂cr = 2 Re(z̄ dz); ∂|z|²/∂ci = 2 Re(z̄ · i dz) = −2 Im(z̄ dz).
    [2.0 * (zr * dr + zi * di), 2.0 * (zi * dr - zr * di)]
}

#[test]
fn complex_quadratic_map() {
    for n in [0, 1, 3, 6] {
        for (cr, ci) in [(-0.5, 0.3), (0.25, -0.4), (-1.1, 0.1)] {
            let (value, dcr, dci) = quadratic_map_grad(cr, ci, n);
            assert_eq!(value, quadratic_map(cr, ci, n));
            let want = quadratic_map_by_hand(cr, ci, n);
            assert_near("map grad", &[dcr, dci], &want, EXACT);
            assert_near(
                "map fd",
                &[dcr, dci],
                &fd_gradient(|p| quadratic_map(p[0], p[1], n), &[cr, ci]),
                FD,
            );
            let (_, t) = quadratic_map_jvp(cr, 0.7, ci, -0.4, n);
            assert_near("map jvp", &[t], &[0.7 * want[0] - 0.4 * want[1]], EXACT);
            let (_, _, _, hess) = quadratic_map_hessian(cr, ci, n);
            check_hessian(
                "map hessian",
                &hess.concat(),
                |p| quadratic_map_by_hand(p[0], p[1], n).to_vec(),
                &[cr, ci],
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 12. Black–Scholes prices through the Abramowitz–Stegun normal CDF
// ---------------------------------------------------------------------------------------------

/// Φ(x) by Abramowitz and Stegun 26.2.17 (absolute error below 7.5e-8), the polynomial in
/// `t` by Horner's rule.
#[differentiate(reverse, forward, hessian)]
fn norm_cdf(x: f64) -> f64 {
    let b = [
        0.319_381_530,
        -0.356_563_782,
        1.781_477_937,
        -1.821_255_978,
        1.330_274_429,
    ];
    let t = 1.0 / (1.0 + 0.231_641_9 * x.abs());
    let poly = t * b.iter().rev().fold(0.0, |acc, &c| acc * t + c);
    let tail = (-0.5 * x * x).exp() / (2.0 * PI).sqrt() * poly;
    if x >= 0.0 { 1.0 - tail } else { tail }
}

/// The Black–Scholes price of a European call; its gradient holds delta, vega, rho and minus
/// theta, its Hessian gamma, vanna and volga.
#[differentiate(reverse, forward, hessian, wrt(spot, vol, rate, expiry))]
fn black_scholes_call(spot: f64, strike: f64, vol: f64, rate: f64, expiry: f64) -> f64 {
    let sqrt_t = expiry.sqrt();
    let d1 = ((spot / strike).ln() + (rate + 0.5 * vol * vol) * expiry) / (vol * sqrt_t);
    let d2 = d1 - vol * sqrt_t;
    spot * norm_cdf(d1) - strike * (-rate * expiry).exp() * norm_cdf(d2)
}

#[test]
fn black_scholes() {
    let strike = 100.0;
    for p in [
        [100.0, 0.2, 0.05, 1.0],
        [80.0, 0.35, 0.01, 0.5],
        [130.0, 0.15, 0.03, 2.0],
    ] {
        let f = |q: &[f64]| black_scholes_call(q[0], strike, q[1], q[2], q[3]);
        let grad = |q: &[f64]| {
            let (_, a, b, c, d) = black_scholes_call_grad(q[0], strike, q[1], q[2], q[3]);
            vec![a, b, c, d]
        };
        let (value, ..) = black_scholes_call_grad(p[0], strike, p[1], p[2], p[3]);
        assert_eq!(value, f(&p));
        let g = grad(&p);
        assert_near("black-scholes grad", &g, &fd_gradient(f, &p), FD);
        let v = direction(4);
        let (_, t) = black_scholes_call_jvp(p[0], v[0], strike, p[1], v[1], p[2], v[2], p[3], v[3]);
        assert_near("black-scholes jvp", &[t], &[dot(&g, &v)], 1e-9);
        let (_, _, _, _, _, hess) = black_scholes_call_hessian(p[0], strike, p[1], p[2], p[3]);
        check_hessian("black-scholes hessian", &hess.concat(), grad, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 13. A two-link planar arm: forward kinematics and its Jacobian
// ---------------------------------------------------------------------------------------------

/// The tip of a two-link arm with joint angles θ₁, θ₂ and link lengths l₁, l₂.
#[differentiate(reverse, forward)]
fn arm_tip(angles: [f64; 2], lengths: &[f64; 2]) -> [f64; 2] {
    let [t1, t2] = angles;
    let [l1, l2] = *lengths;
    [
        l1 * t1.cos() + l2 * (t1 + t2).cos(),
        l1 * t1.sin() + l2 * (t1 + t2).sin(),
    ]
}

#[test]
fn two_link_arm_jacobian() {
    for (angles, lengths) in [([0.3_f64, 0.8], [1.0, 0.7]), ([-1.2, 2.0], [0.5, 1.5])] {
        let [t1, t2] = angles;
        let [l1, l2] = lengths;
        let (s1, c1, s12, c12) = (t1.sin(), t1.cos(), (t1 + t2).sin(), (t1 + t2).cos());
        // The manipulator Jacobian, rows x and y, columns θ₁, θ₂, l₁, l₂.
        let want = [
            [-l1 * s1 - l2 * s12, -l2 * s12, c1, c12],
            [l1 * c1 + l2 * c12, l2 * c12, s1, s12],
        ];
        let (out, jac) = arm_tip_jacobian(angles, &lengths);
        assert_eq!(out, arm_tip(angles, &lengths));
        for i in 0..2 {
            assert_near("arm jacobian", &jac[i], &want[i], EXACT);
        }
        let seed = [0.3, -0.8];
        let (out, da, dl) = arm_tip_vjp(angles, &lengths, seed);
        assert_eq!(out, arm_tip(angles, &lengths));
        let got = [da[0], da[1], dl[0], dl[1]];
        let w: Vec<f64> = (0..4)
            .map(|j| seed[0] * want[0][j] + seed[1] * want[1][j])
            .collect();
        assert_near("arm vjp", &got, &w, EXACT);
        let (_, t) = arm_tip_jvp(angles, [0.1, 0.2], &lengths, &[0.3, 0.4]);
        let w: Vec<f64> = (0..2)
            .map(|i| dot(&want[i], &[0.1, 0.2, 0.3, 0.4]))
            .collect();
        assert_near("arm jvp", &t, &w, EXACT);
    }
}
// ---------------------------------------------------------------------------------------------
// 14. The trapezoid rule over `windows(2)`, the integrand a closure capturing the parameters
// ---------------------------------------------------------------------------------------------
/// ∫ a e^{-b x} sin(ω x) dx on the grid by the trapezoid rule.
#[differentiate(reverse, forward, hessian, wrt(a, b, omega))]
fn trapezoid(a: f64, b: f64, omega: f64, xs: &[f64]) -> f64 {
    let f = |x: f64| a * (-b * x).exp() * (omega * x).sin();
    xs.windows(2)
        .map(|w| 0.5 * (w[1] - w[0]) * (f(w[0]) + f(w[1])))
        .sum()
}

#[test]
fn trapezoid_rule() {
    let xs: Vec<f64> = (0..=20_u8)
        .map(|i| (f64::from(i) * 0.15).powf(1.2))
        .collect();
    for p in [[1.0, 0.5, 2.0], [2.0, 1.5, 0.7], [-0.5, 0.1, 4.0]] {
        let (a, b, om) = (p[0], p[1], p[2]);
        // By hand: the same quadrature of the integrand's derivatives.
        let mut want = [0.0; 3];
        for w in xs.windows(2) {
            for x in [w[0], w[1]] {
                let h = 0.5 * (w[1] - w[0]);
                let e = (-b * x).exp();
                want[0] += h * e * (om * x).sin();
                want[1] += h * a * (-x) * e * (om * x).sin();
                want[2] += h * a * e * x * (om * x).cos();
            }
        }
        let (value, da, db, dw) = trapezoid_grad(a, b, om, &xs);
        assert_eq!(value, trapezoid(a, b, om, &xs));
        assert_near("trap grad", &[da, db, dw], &want, EXACT);
        let (_, t) = trapezoid_jvp(a, 0.3, b, -0.2, om, 0.5, &xs);
        assert_near("trap jvp", &[t], &[dot(&want, &[0.3, -0.2, 0.5])], EXACT);
        let (_, _, _, _, hess) = trapezoid_hessian(a, b, om, &xs);
        let gr = |q: &[f64]| {
            let (_, a, b, c) = trapezoid_grad(q[0], q[1], q[2], &xs);
            vec![a, b, c]
        };
        check_hessian("trap hess", &hess.concat(), gr, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 15. Holt's linear exponential smoothing: squared one-step forecast errors
// ---------------------------------------------------------------------------------------------
#[differentiate(reverse, forward, hessian, wrt(alpha, beta))]
fn holt_sse(alpha: f64, beta: f64, ys: &[f64]) -> f64 {
    let mut level = ys[0];
    let mut trend = ys[1] - ys[0];
    let mut sse = 0.0;
    for &y in ys.iter().skip(1) {
        let forecast = level + trend;
        let err = y - forecast;
        sse += err * err;
        let new_level = alpha * y + (1.0 - alpha) * (level + trend);
        trend = beta * (new_level - level) + (1.0 - beta) * trend;
        level = new_level;
    }
    sse
}

/// The gradient by forward mode written out by hand: the tangents of level and trend along α
/// and β carried through the recursion.
fn holt_by_hand(alpha: f64, beta: f64, ys: &[f64]) -> [f64; 2] {
    let mut level = ys[0];
    let mut trend = ys[1] - ys[0];
    let (mut dl, mut dt) = ([0.0; 2], [0.0; 2]);
    let mut g = [0.0; 2];
    for &y in &ys[1..] {
        let err = y - level - trend;
        for k in 0..2 {
            g[k] += -2.0 * err * (dl[k] + dt[k]);
        }
        let nl = alpha * y + (1.0 - alpha) * (level + trend);
        let mut dnl = [0.0; 2];
        for k in 0..2 {
            dnl[k] = (1.0 - alpha) * (dl[k] + dt[k]);
        }
        dnl[0] += y - level - trend;
        let nt = beta * (nl - level) + (1.0 - beta) * trend;
        let mut dnt = [0.0; 2];
        for k in 0..2 {
            dnt[k] = beta * (dnl[k] - dl[k]) + (1.0 - beta) * dt[k];
        }
        dnt[1] += nl - level - trend;
        level = nl;
        trend = nt;
        dl = dnl;
        dt = dnt;
    }
    g
}

#[test]
fn holt_smoothing_errors() {
    let ys = [10.0, 12.0, 13.5, 13.0, 15.2, 16.8, 16.1, 18.0];
    for (al, be) in [(0.5, 0.3), (0.9, 0.1), (0.2, 0.8)] {
        let (value, da, db) = holt_sse_grad(al, be, &ys);
        assert_eq!(value, holt_sse(al, be, &ys));
        let want = holt_by_hand(al, be, &ys);
        assert_near("holt grad", &[da, db], &want, 1e-9);
        assert_near(
            "holt fd",
            &[da, db],
            &fd_gradient(|q| holt_sse(q[0], q[1], &ys), &[al, be]),
            FD,
        );
        let (_, t) = holt_sse_jvp(al, 0.4, be, -0.3, &ys);
        assert_near("holt jvp", &[t], &[0.4 * want[0] - 0.3 * want[1]], 1e-9);
        let (_, _, _, hess) = holt_sse_hessian(al, be, &ys);
        check_hessian(
            "holt hess",
            &hess.concat(),
            |q| holt_by_hand(q[0], q[1], &ys).to_vec(),
            &[al, be],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 16. A tiered tariff: `match` on integer ranges, with a binding and a guard
// ---------------------------------------------------------------------------------------------
#[differentiate(reverse, forward, hessian, wrt(usage, rates))]
fn tariff(usage: &[f64], rates: &[f64; 3], discount_months: u32) -> f64 {
    let mut bill = 0.0;
    for (month, &u) in usage.iter().enumerate() {
        let tier = (u / 100.0).floor() as i64;
        let charge = match tier {
            0 => rates[0] * u,
            1..=2 => rates[0] * 100.0 + rates[1] * (u - 100.0),
            t if t >= 3 => rates[0] * 100.0 + rates[1] * 200.0 + rates[2] * (u - 300.0).powf(1.1),
            _ => 0.0,
        };
        bill += if (month as u32) < discount_months {
            0.9 * charge
        } else {
            charge
        };
    }
    bill
}

#[test]
fn tiered_tariff() {
    let usage = [50.0, 150.0, 280.0, 420.0, -5.0, 310.0];
    let rates = [0.1, 0.15, 0.25];
    for disc in [0, 2, 6] {
        let (value, du, dr) = tariff_grad(&usage, &rates, disc);
        assert_eq!(value, tariff(&usage, &rates, disc));
        let mut p = usage.to_vec();
        p.extend(rates);
        let f = |q: &[f64]| tariff(&q[..6], &[q[6], q[7], q[8]], disc);
        let mut g = du.clone();
        g.extend(dr);
        assert_near("tariff grad", &g, &fd_gradient(f, &p), FD);
        let v = direction(9);
        let (_, t) = tariff_jvp(&usage, &v[..6], &rates, &[v[6], v[7], v[8]], disc);
        assert_near("tariff jvp", &[t], &[dot(&g, &v)], 1e-12);
        let gr = |q: &[f64]| {
            let (_, mut a, b) = tariff_grad(&q[..6], &[q[6], q[7], q[8]], disc);
            a.extend(b);
            a
        };
        let (_, _, _, hess) = tariff_hessian(&usage, &rates, disc);
        check_hessian("tariff hess", &hess, gr, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 17. First passage over a barrier: early `return` from inside a loop
// ---------------------------------------------------------------------------------------------
/// Compounds x by (1 + μ/10) per step and returns, at the first step where x exceeds the
/// barrier, x times the number of steps taken; or the final x if it never does.
#[differentiate(reverse, forward, hessian, wrt(x0, mu))]
fn first_passage(x0: f64, mu: f64, barrier: f64, steps: usize) -> f64 {
    let mut x = x0;
    for k in 0..steps {
        x *= 1.0 + mu * 0.1;
        if x > barrier {
            return x * (k as f64 + 1.0);
        }
    }
    x
}

#[test]
fn first_passage_with_early_return() {
    for (x0, mu) in [(1.0, 0.5), (1.0, 0.05), (0.5, 1.3)] {
        let (v, a, b) = first_passage_grad(x0, mu, 2.0, 20);
        assert_eq!(v, first_passage(x0, mu, 2.0, 20));
        let want = fd_gradient(|q| first_passage(q[0], q[1], 2.0, 20), &[x0, mu]);
        assert_near("fp grad", &[a, b], &want, FD);
        let (_, t) = first_passage_jvp(x0, 0.3, mu, 0.7, 2.0, 20);
        assert_near("fp jvp", &[t], &[0.3 * a + 0.7 * b], 1e-12);
        let (_, _, _, hess) = first_passage_hessian(x0, mu, 2.0, 20);
        check_hessian(
            "fp hess",
            &hess.concat(),
            |q| {
                let (_, a, b) = first_passage_grad(q[0], q[1], 2.0, 20);
                vec![a, b]
            },
            &[x0, mu],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 18. Composite Simpson's rule with `step_by(2)` over the odd and even nodes
// ---------------------------------------------------------------------------------------------

/// ∫ₐᵇ sin(kx) / (1 + cx²) dx by the composite Simpson rule on `n` (even) intervals, the
/// integrand a closure capturing `k` and `c`.
#[differentiate(reverse, forward, hessian, wrt(k, c))]
fn simpson(k: f64, c: f64, a: f64, b: f64, n: usize) -> f64 {
    let h = (b - a) / n as f64;
    let f = |x: f64| (k * x).sin() / (1.0 + c * x * x);
    let odd: f64 = (1..n).step_by(2).map(|i| f(a + i as f64 * h)).sum();
    let even: f64 = (2..n).step_by(2).map(|i| f(a + i as f64 * h)).sum();
    h / 3.0 * (f(a) + 4.0 * odd + 2.0 * even + f(b))
}

#[test]
fn simpson_rule() {
    for p in [[1.0, 0.5], [2.5, 0.1]] {
        let f = |q: &[f64]| simpson(q[0], q[1], 0.0, 2.0, 10);
        let (v, a, b) = simpson_grad(p[0], p[1], 0.0, 2.0, 10);
        assert_eq!(v, f(&p));
        assert_near("simpson", &[a, b], &fd_gradient(f, &p), FD);
        let (_, _, _, h) = simpson_hessian(p[0], p[1], 0.0, 2.0, 10);
        check_hessian(
            "simpson h",
            &h.concat(),
            |q| {
                let (_, a, b) = simpson_grad(q[0], q[1], 0.0, 2.0, 10);
                vec![a, b]
            },
            &p,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 19. An `f32` leapfrog of a harmonic oscillator, its action accumulated in `f64` through `.into()`
// ---------------------------------------------------------------------------------------------

/// Twenty kick–drift–kick steps of q'' = −ω²q in `f32`, the discrete action Σ L dt with
/// L = p²/2 − ω²q²/2 summed in `f64`.
#[differentiate(reverse, forward)]
fn oscillator_f32(q0: f32, p0: f32, omega: f32) -> f64 {
    let dt = 0.05_f32;
    let mut q = q0;
    let mut p = p0;
    let mut action = 0.0_f64;
    for _ in 0..20 {
        p -= 0.5 * dt * omega * omega * q;
        q += dt * p;
        p -= 0.5 * dt * omega * omega * q;
        let lag: f64 = (0.5 * p * p - 0.5 * omega * omega * q * q).into();
        action += lag * 0.05;
    }
    action
}

#[test]
fn f32_oscillator() {
    for p in [[1.0_f32, 0.0, 2.0], [0.3, -0.5, 1.1]] {
        let (v, a, b, c) = oscillator_f32_grad(p[0], p[1], p[2]);
        assert_eq!(v, oscillator_f32(p[0], p[1], p[2]));
        // Finite differences of the same steps run in `f64`, to the accuracy of `f32`.
        let f = |q: &[f64]| {
            let dt = 0.05_f64;
            let (mut x, mut y, om) = (q[0], q[1], q[2]);
            let mut s = 0.0;
            for _ in 0..20 {
                y -= 0.5 * dt * om * om * x;
                x += dt * y;
                y -= 0.5 * dt * om * om * x;
                s += (0.5 * y * y - 0.5 * om * om * x * x) * 0.05;
            }
            s
        };
        let pf: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
        let got = [f64::from(a), f64::from(b), f64::from(c)];
        assert_near("f32 osc", &got, &fd_gradient(f, &pf), 1e-4);
        let (_, t) = oscillator_f32_jvp(p[0], 0.5, p[1], -0.5, p[2], 0.25);
        assert_near(
            "f32 jvp",
            &[t],
            &[0.5 * got[0] - 0.5 * got[1] + 0.25 * got[2]],
            1e-4,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 20. Minibatch least squares: `f_grad_into` accumulating a batch's gradient
// ---------------------------------------------------------------------------------------------

/// The squared error of one row, (w·x − y)².
#[differentiate(reverse, forward)]
fn row_loss(w: &[f64], x: &[f64], y: f64) -> f64 {
    let z: f64 = w.iter().zip(x).map(|(a, b)| a * b).sum();
    (z - y).powi(2)
}

#[test]
fn minibatch_gradient_accumulates() {
    let xs = [[1.0, 0.5, -0.2], [0.3, -1.0, 0.8], [-0.5, 0.2, 1.5]];
    let ys = [0.5, -0.3, 1.2];
    let mut w = vec![0.1, -0.2, 0.3];
    for _ in 0..3 {
        let mut g = vec![0.0; 3];
        let mut total = 0.0;
        for (x, &y) in xs.iter().zip(&ys) {
            let mut dx = [0.0; 3];
            let (v, dy) = row_loss_grad_into(&w, &mut g, x, &mut dx, y);
            total += v;
            let z = dot(&w, x);
            assert_near("dy", &[dy], &[-2.0 * (z - y)], EXACT);
            let want_dx: Vec<f64> = w.iter().map(|wj| 2.0 * (z - y) * wj).collect();
            assert_near("dx", &dx, &want_dx, EXACT);
        }
        let mut want = vec![0.0; 3];
        for (x, &y) in xs.iter().zip(&ys) {
            let z = dot(&w, x);
            for j in 0..3 {
                want[j] += 2.0 * (z - y) * x[j];
            }
        }
        assert_near("sgd accum", &g, &want, EXACT);
        assert!(total > 0.0);
        for j in 0..3 {
            w[j] -= 0.1 * g[j];
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 21. An AR(1) model's conditional likelihood as a method, `wrt(self)`
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, PartialEq)]
struct Ar1 {
    phi: f64,
    log_sigma: f64,
    mean: f64,
}

impl Ar1 {
    /// The conditional Gaussian negative log-likelihood of a series under
    /// yₜ − μ = φ(yₜ₋₁ − μ) + εₜ, εₜ ~ N(0, σ²), over consecutive pairs (`windows(2)`).
    #[differentiate(reverse, forward, hessian, wrt(self))]
    fn nll(&self, ys: &[f64]) -> f64 {
        let sigma2 = (2.0 * self.log_sigma).exp();
        let mut total = 0.0;
        for w in ys.windows(2) {
            let e = (w[1] - self.mean) - self.phi * (w[0] - self.mean);
            total += 0.5 * (2.0 * PI * sigma2).ln() + e * e / (2.0 * sigma2);
        }
        total
    }
}

#[test]
fn ar1_method() {
    let ys = [0.5, 0.8, 0.3, -0.2, 0.1, 0.9, 1.2];
    for m in [
        Ar1 {
            phi: 0.5,
            log_sigma: -0.3,
            mean: 0.2,
        },
        Ar1 {
            phi: -0.2,
            log_sigma: 0.4,
            mean: 0.6,
        },
    ] {
        let flat = |q: &[f64]| {
            Ar1 {
                phi: q[0],
                log_sigma: q[1],
                mean: q[2],
            }
            .nll(&ys)
        };
        let p = [m.phi, m.log_sigma, m.mean];
        let (v, g) = Ar1::nll_grad(&m, &ys);
        assert_eq!(v, m.nll(&ys));
        let gv = [g.phi, g.log_sigma, g.mean];
        assert_near("ar1 grad", &gv, &fd_gradient(flat, &p), FD);
        let (_, t) = Ar1::nll_jvp(
            &m,
            &Ar1 {
                phi: 0.1,
                log_sigma: 0.2,
                mean: -0.3,
            },
            &ys,
        );
        assert_near("ar1 jvp", &[t], &[dot(&gv, &[0.1, 0.2, -0.3])], 1e-10);
        // The Hessian flattens the fields in the order the body first reads them: log σ, μ, φ.
        let (_, _, h) = Ar1::nll_hessian(&m, &ys);
        let gr = |q: &[f64]| {
            let (_, g) = Ar1::nll_grad(
                &Ar1 {
                    phi: q[2],
                    log_sigma: q[0],
                    mean: q[1],
                },
                &ys,
            );
            vec![g.log_sigma, g.mean, g.phi]
        };
        check_hessian("ar1 hess", &h, gr, &[m.log_sigma, m.mean, m.phi]);
    }
}

// ---------------------------------------------------------------------------------------------
// 22. A robust location estimate: a differentiated helper inside `map`, `continue` on a mask
// ---------------------------------------------------------------------------------------------

/// The pseudo-Huber loss δ²(√(1 + (r/δ)²) − 1).
#[differentiate(reverse, forward, hessian)]
fn pseudo_huber(r: f64, delta: f64) -> f64 {
    delta * delta * ((1.0 + (r / delta).powi(2)).sqrt() - 1.0)
}

/// Σ pseudo-Huber(xᵢ − c) over all points, plus the same with residuals scaled by 1.5 over
/// the points the mask selects.
#[differentiate(reverse, forward, hessian, wrt(center, delta))]
fn robust_center(center: f64, delta: f64, xs: &[f64], mask: &[bool]) -> f64 {
    let all: f64 = xs.iter().map(|&x| pseudo_huber(x - center, delta)).sum();
    let mut masked = 0.0;
    for (i, &x) in xs.iter().enumerate() {
        if !mask[i] {
            continue;
        }
        let r = x - center;
        let r = r * 1.5;
        masked += pseudo_huber(r, delta);
    }
    all + masked
}

#[test]
fn robust_location() {
    let xs = [0.1, 0.5, 3.0, -0.4, 0.2];
    let mask = [true, false, true, true, false];
    for p in [[0.2, 1.0], [1.0, 0.3]] {
        let f = |q: &[f64]| robust_center(q[0], q[1], &xs, &mask);
        let (v, a, b) = robust_center_grad(p[0], p[1], &xs, &mask);
        assert_eq!(v, f(&p));
        assert_near("robust", &[a, b], &fd_gradient(f, &p), FD);
        let (_, t) = robust_center_jvp(p[0], 0.3, p[1], 0.6, &xs, &mask);
        assert_near("robust jvp", &[t], &[0.3 * a + 0.6 * b], 1e-10);
        let (_, _, _, h) = robust_center_hessian(p[0], p[1], &xs, &mask);
        check_hessian(
            "robust h",
            &h.concat(),
            |q| {
                let (_, a, b) = robust_center_grad(q[0], q[1], &xs, &mask);
                vec![a, b]
            },
            &p,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 23. A chain of masses: helpers that add forces into a buffer they also read, in a time loop
// ---------------------------------------------------------------------------------------------

/// Adds the pairwise spring forces of a chain into `force` (which it also reads).
#[differentiate(reverse, forward, hessian)]
fn add_spring_forces(pos: &[f64], k: f64, rest: f64, force: &mut [f64]) {
    for i in 0..pos.len() - 1 {
        let stretch = pos[i + 1] - pos[i] - rest;
        force[i] += k * stretch;
        force[i + 1] -= k * stretch;
    }
}

/// Adds a pull toward the origin, −c x|x|, into `force`.
#[differentiate(reverse, forward, hessian)]
fn add_anchor(pos: &[f64], c: f64, force: &mut [f64]) {
    for i in 0..pos.len() {
        force[i] -= c * pos[i] * pos[i].abs();
    }
}

/// Symplectic Euler over a chain of unit masses, the force buffer zeroed and refilled by the
/// helpers every step; returns the kinetic energy plus a cubic term in the final positions.
#[differentiate(reverse, forward, hessian, wrt(x0, k, c))]
fn chain_sim(x0: &[f64], k: f64, c: f64, steps: usize) -> f64 {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut v = vec![0.0; n];
    let mut f = vec![0.0; n];
    for _ in 0..steps {
        for i in 0..n {
            f[i] = 0.0;
        }
        add_spring_forces(&x, k, 1.0, &mut f);
        add_anchor(&x, c, &mut f);
        for i in 0..n {
            v[i] += 0.1 * f[i];
            x[i] += 0.1 * v[i];
        }
    }
    let mut kinetic = 0.0;
    for i in 0..n {
        kinetic += 0.5 * v[i] * v[i] + 0.1 * x[i] * x[i] * x[i];
    }
    kinetic
}

#[test]
fn chain_of_masses() {
    let x0 = [0.2, 1.3, 1.9, 3.4];
    for steps in [0, 1, 4] {
        for (k, c) in [(2.0, 0.1), (0.5, 0.7)] {
            let mut p = x0.to_vec();
            p.push(k);
            p.push(c);
            let f = |q: &[f64]| chain_sim(&q[..4], q[4], q[5], steps);
            let gr = |q: &[f64]| {
                let (_, mut a, b, c) = chain_sim_grad(&q[..4], q[4], q[5], steps);
                a.push(b);
                a.push(c);
                a
            };
            let (v, ..) = chain_sim_grad(&x0, k, c, steps);
            assert_eq!(v, f(&p));
            let g = gr(&p);
            assert_near("chain grad", &g, &fd_gradient(f, &p), FD);
            let d = direction(6);
            let (_, t) = chain_sim_jvp(&x0, &d[..4], k, d[4], c, d[5], steps);
            assert_near("chain jvp", &[t], &[dot(&g, &d)], 1e-9);
            let (_, _, _, _, h) = chain_sim_hessian(&x0, k, c, steps);
            check_hessian("chain h", &h, gr, &p);
            let (_, _, _, _, hv, hk, hc) = chain_sim_hvp(&x0, &d[..4], k, d[4], c, d[5], steps);
            let mut hv = hv;
            hv.push(hk);
            hv.push(hc);
            let want: Vec<f64> = (0..6).map(|r| dot(&h[r * 6..(r + 1) * 6], &d)).collect();
            assert_near("chain hvp", &hv, &want, 1e-9);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 24. Sample moments of a slice: `f_jacobian_into` and `f_vjp_into`
// ---------------------------------------------------------------------------------------------

/// Mean, variance and skewness of the shifted sample.
#[differentiate(reverse, forward)]
fn moments(x: &[f64], shift: f64) -> [f64; 3] {
    let n = x.len() as f64;
    let mean = x.iter().map(|v| v - shift).sum::<f64>() / n;
    let var = x.iter().map(|v| (v - shift - mean).powi(2)).sum::<f64>() / n;
    let skew = x.iter().map(|v| (v - shift - mean).powi(3)).sum::<f64>() / n / var.powf(1.5);
    [mean, var, skew]
}

#[test]
fn sample_moments_into_buffers() {
    let x = [0.3, 1.2, -0.5, 2.2, 0.9];
    let shift = 0.4;
    let mut p = x.to_vec();
    p.push(shift);
    let flat = |q: &[f64]| moments(&q[..5], q[5]).to_vec();
    let jfd = fd_jacobian(flat, &p);
    let mut jac = vec![0.0; 18];
    let out = moments_jacobian_into(&x, shift, &mut jac);
    assert_eq!(out, moments(&x, shift));
    assert_near("moments jac", &jac, &jfd.concat(), FD);
    let seed = [0.5, -1.0, 0.25];
    let mut dx = vec![1.0; 5];
    let (_, ds) = moments_vjp_into(&x, &mut dx, shift, seed);
    let want: Vec<f64> = (0..6)
        .map(|j| (0..3).map(|i| seed[i] * jfd[i][j]).sum::<f64>())
        .collect();
    let got: Vec<f64> = dx.iter().map(|v| v - 1.0).chain([ds]).collect();
    assert_near("moments vjp_into", &got, &want, FD);
    let (_, jac2) = moments_jacobian(&x, shift);
    assert_near("moments jac2", &jac2, &jac, 1e-15);
}

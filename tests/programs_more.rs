//! More small numerical programs as Rust users write them, differentiated as written and checked
//! against oracles that do not go through the macro: closed forms where they are short,
//! fourth-order central finite differences of the original function otherwise, and, for second
//! order, central differences of a gradient that was itself checked.
//!
//! The programs: a two-layer `tanh` network as a struct with a `&self` loss (`wrt(self)`);
//! softmax cross-entropy through a numerically stable log-sum-exp helper (Goodfellow, Bengio and
//! Courville, *Deep Learning*, §6.2.2.3); the negative log-likelihood of a constant-velocity
//! Kalman filter (Durbin and Koopman, *Time Series Analysis by State Space Methods*, §7.2);
//! velocity-Verlet integration of a Kepler orbit (Hairer, Lubich and Wanner, *Geometric
//! Numerical Integration*, §I.1); a Catmull–Rom spline; piecewise-linear interpolation by binary
//! search (as `numpy.interp`); an exponential moving average by `fold`; Rosenbrock's and
//! Himmelblau's test functions generic over `T: Float`; Horner's rule by `rev().fold`; a 3×3
//! determinant by cofactors and a Gauss–Seidel solve; a portfolio variance wᵀΣw (Markowitz); a
//! logistic growth ODE by Euler steps that stops on convergence; single-query dot-product
//! attention (Vaswani et al., 2017); a Gaussian-process negative log marginal likelihood through
//! a 3×3 Cholesky factorisation (Rasmussen and Williams, *Gaussian Processes for Machine
//! Learning*, Algorithm 2.1); Huber-regularised least squares; the maximum drawdown of a price
//! series by a running maximum; a cube root by bisection polished by one Newton step; a
//! two-unit Elman recurrent network as a struct with `wrt(self)`; soft dynamic time warping
//! (Cuturi and Blondel, *Soft-DTW*, ICML 2017); and a Bézier curve by de Casteljau's algorithm.
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

use autodiff::differentiate;
use autodiff::num_traits::Float;

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::oracles::{
    EXACT, FD, assert_near, check_hessian, direction, dot, fd_directional, fd_gradient, fd_jacobian,
};

// ---------------------------------------------------------------------------------------------
// 1. A two-layer tanh network: a struct of weights and a `&self` loss
// ---------------------------------------------------------------------------------------------

/// Two inputs, three `tanh` hidden units, one linear output; `w1` holds the hidden layer's rows.
#[derive(Clone, Debug, Default, PartialEq)]
struct Mlp {
    w1: [f64; 6],
    b1: [f64; 3],
    w2: [f64; 3],
    b2: f64,
}

impl Mlp {
    /// Half the mean squared error over a batch of two-dimensional inputs stored row after row.
    #[differentiate(reverse, hessian, wrt(self))]
    fn loss(&self, x: &[f64], y: &[f64]) -> f64 {
        let mut total = 0.0;
        for (xi, &yi) in x.chunks_exact(2).zip(y) {
            let mut out = self.b2;
            for ((row, &b), &v) in self.w1.chunks_exact(2).zip(&self.b1).zip(&self.w2) {
                let h = (row[0] * xi[0] + row[1] * xi[1] + b).tanh();
                out += v * h;
            }
            let r = out - yi;
            total += r * r;
        }
        0.5 * total / y.len() as f64
    }

    /// The parameters in the order the loss first reads them: `b2`, `w1`, `b1`, `w2`.
    fn flat(&self) -> Vec<f64> {
        let mut v = vec![self.b2];
        v.extend_from_slice(&self.w1);
        v.extend_from_slice(&self.b1);
        v.extend_from_slice(&self.w2);
        v
    }

    fn from_flat(p: &[f64]) -> Mlp {
        let mut m = Mlp {
            b2: p[0],
            ..Mlp::default()
        };
        m.w1.copy_from_slice(&p[1..7]);
        m.b1.copy_from_slice(&p[7..10]);
        m.w2.copy_from_slice(&p[10..13]);
        m
    }
}

const MLP_X: [f64; 8] = [0.3, -1.2, 1.1, 0.4, -0.7, 0.9, 0.05, -0.25];
const MLP_Y: [f64; 4] = [0.5, -0.3, 1.2, 0.1];

fn mlp_start() -> Mlp {
    Mlp::from_flat(&[
        0.1, 0.4, -0.6, 0.9, 0.2, -0.3, 0.75, 0.05, -0.1, 0.2, 0.8, -0.5, 0.35,
    ])
}

#[test]
fn mlp_gradient_matches_finite_differences() {
    let m = mlp_start();
    let (value, d) = m.loss_grad(&MLP_X, &MLP_Y);
    assert_eq!(value, m.loss(&MLP_X, &MLP_Y));
    let want = fd_gradient(|p| Mlp::from_flat(p).loss(&MLP_X, &MLP_Y), &m.flat());
    assert_near("mlp gradient", &d.flat(), &want, FD);
}

#[test]
fn mlp_hessian_and_hvp_match_differences_of_the_gradient() {
    let m = mlp_start();
    let grad = |p: &[f64]| Mlp::from_flat(p).loss_grad(&MLP_X, &MLP_Y).1.flat();
    let (value, d, hess) = m.loss_hessian(&MLP_X, &MLP_Y);
    assert_eq!(value, m.loss(&MLP_X, &MLP_Y));
    assert_eq!(d, m.loss_grad(&MLP_X, &MLP_Y).1);
    check_hessian("mlp hessian", &hess, grad, &m.flat());
    let v = direction(13);
    let dir = Mlp::from_flat(&v);
    let (_, _, hv) = m.loss_hvp(&dir, &MLP_X, &MLP_Y);
    let want = fd_directional(grad, &m.flat(), &v);
    assert_near("mlp hvp", &hv.flat(), &want, 1e-5);
}

// ---------------------------------------------------------------------------------------------
// 2. Softmax cross-entropy through a stable log-sum-exp helper
// ---------------------------------------------------------------------------------------------

/// log Σ exp zᵢ, shifted by the largest entry so that nothing overflows.
#[differentiate(reverse, forward, hessian)]
fn log_sum_exp(z: &[f64]) -> f64 {
    let m = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let s: f64 = z.iter().map(|&v| (v - m).exp()).sum();
    m + s.ln()
}

/// Mean cross-entropy of a linear classifier: `w` is k rows of d weights, `x` n rows of d
/// features, `labels` the n classes.
#[differentiate(reverse, forward, hessian, wrt(w))]
fn softmax_xent(w: &[f64], x: &[f64], labels: &[usize], d: usize) -> f64 {
    let k = w.len() / d;
    let n = labels.len();
    let mut loss = 0.0;
    for s in 0..n {
        let xs = &x[s * d..(s + 1) * d];
        let mut logits = vec![0.0; k];
        for c in 0..k {
            let mut z = 0.0;
            for j in 0..d {
                z += w[c * d + j] * xs[j];
            }
            logits[c] = z;
        }
        loss += log_sum_exp(&logits) - logits[labels[s]];
    }
    loss / n as f64
}

const XENT_X: [f64; 8] = [1.0, 0.5, -0.3, 2.0, 0.8, -1.1, 1.5, 0.2];
const XENT_LABELS: [usize; 4] = [0, 2, 1, 2];

/// ∂/∂`w[c, j]` = (1/n) Σₛ (pₛc − [c = yₛ]) xₛⱼ.
fn xent_gradient_by_hand(w: &[f64], d: usize) -> Vec<f64> {
    let k = w.len() / d;
    let n = XENT_LABELS.len();
    let mut g = vec![0.0; w.len()];
    for s in 0..n {
        let xs = &XENT_X[s * d..(s + 1) * d];
        let z: Vec<f64> = (0..k).map(|c| dot(&w[c * d..(c + 1) * d], xs)).collect();
        let total: f64 = z.iter().map(|v| v.exp()).sum();
        for c in 0..k {
            let p = z[c].exp() / total - if c == XENT_LABELS[s] { 1.0 } else { 0.0 };
            for j in 0..d {
                g[c * d + j] += p * xs[j] / n as f64;
            }
        }
    }
    g
}

#[test]
fn softmax_cross_entropy_gradient_jvp_and_hessian() {
    for w in [
        [0.2, -0.4, 0.7, 0.1, -0.3, 0.5],
        [3.0, 1.0, -2.0, 0.5, 0.0, 4.0],
    ] {
        let (value, dw) = softmax_xent_grad(&w, &XENT_X, &XENT_LABELS, 2);
        assert_eq!(value, softmax_xent(&w, &XENT_X, &XENT_LABELS, 2));
        assert_near("xent gradient", &dw, &xent_gradient_by_hand(&w, 2), EXACT);
        let v = direction(6);
        let (vj, tangent) = softmax_xent_jvp(&w, &v, &XENT_X, &XENT_LABELS, 2);
        assert_eq!(vj, value);
        assert!((tangent - dot(&dw, &v)).abs() < 1e-12 * tangent.abs().max(1.0));
        let (_, _, hess) = softmax_xent_hessian(&w, &XENT_X, &XENT_LABELS, 2);
        check_hessian("xent hessian", &hess, |p| xent_gradient_by_hand(p, 2), &w);
        let (_, _, hv) = softmax_xent_hvp(&w, &v, &XENT_X, &XENT_LABELS, 2);
        let want: Vec<f64> = (0..6).map(|i| dot(&hess[i * 6..(i + 1) * 6], &v)).collect();
        assert_near("xent hvp", &hv, &want, EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. A Kalman filter's negative log-likelihood, constant-velocity model
// ---------------------------------------------------------------------------------------------

/// State (position, velocity), F = [[1, dt], [0, 1]], Q = q·[[dt³/3, dt²/2], [dt²/2, dt]],
/// H = [1, 0], R = r; the covariance P is a row-major `[f64; 4]` rebuilt at each step.
#[differentiate(reverse, forward, hessian, wrt(q, r))]
fn kalman_nll(q: f64, r: f64, zs: &[f64], dt: f64) -> f64 {
    let mut x = [zs[0], 0.0];
    let mut p = [1.0, 0.0, 0.0, 1.0];
    let mut nll = 0.0;
    for &z in &zs[1..] {
        x = [x[0] + dt * x[1], x[1]];
        let (p00, p01, p10, p11) = (p[0], p[1], p[2], p[3]);
        p = [
            p00 + dt * (p10 + p01) + dt * dt * p11 + q * dt.powi(3) / 3.0,
            p01 + dt * p11 + q * dt * dt / 2.0,
            p10 + dt * p11 + q * dt * dt / 2.0,
            p11 + q * dt,
        ];
        let s = p[0] + r;
        let innov = z - x[0];
        let k0 = p[0] / s;
        let k1 = p[2] / s;
        x = [x[0] + k0 * innov, x[1] + k1 * innov];
        p = [
            (1.0 - k0) * p[0],
            (1.0 - k0) * p[1],
            p[2] - k1 * p[0],
            p[3] - k1 * p[1],
        ];
        nll += 0.5 * (s.ln() + innov * innov / s + (2.0 * PI).ln());
    }
    nll
}

const KALMAN_Z: [f64; 7] = [0.0, 0.9, 2.3, 2.8, 4.4, 5.1, 6.3];

#[test]
fn kalman_likelihood_derivatives() {
    for (q, r) in [(0.5, 0.2), (0.05, 1.5), (2.0, 0.01)] {
        let f = |p: &[f64]| kalman_nll(p[0], p[1], &KALMAN_Z, 0.7);
        let (value, dq, dr) = kalman_nll_grad(q, r, &KALMAN_Z, 0.7);
        assert_eq!(value, kalman_nll(q, r, &KALMAN_Z, 0.7));
        assert_near("kalman gradient", &[dq, dr], &fd_gradient(f, &[q, r]), FD);
        let (_, t) = kalman_nll_jvp(q, 0.3, r, -0.8, &KALMAN_Z, 0.7);
        assert!((t - (0.3 * dq - 0.8 * dr)).abs() < 1e-10 * t.abs().max(1.0));
        let grad = |p: &[f64]| {
            let (_, a, b) = kalman_nll_grad(p[0], p[1], &KALMAN_Z, 0.7);
            vec![a, b]
        };
        let (_, _, _, hess) = kalman_nll_hessian(q, r, &KALMAN_Z, 0.7);
        check_hessian("kalman hessian", hess.as_flattened(), grad, &[q, r]);
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Velocity-Verlet integration of a Kepler orbit
// ---------------------------------------------------------------------------------------------

/// The position after `steps` velocity-Verlet steps of q'' = −GM q/|q|³.
#[differentiate(reverse, forward)]
fn kepler_verlet(q0: [f64; 2], v0: [f64; 2], gm: f64, dt: f64, steps: usize) -> [f64; 2] {
    let acc = |p: [f64; 2]| {
        let r2 = p[0] * p[0] + p[1] * p[1];
        let inv_r3 = 1.0 / (r2 * r2.sqrt());
        [-gm * p[0] * inv_r3, -gm * p[1] * inv_r3]
    };
    let mut q = q0;
    let mut v = v0;
    let mut a = acc(q);
    for _ in 0..steps {
        q = [
            q[0] + dt * v[0] + 0.5 * dt * dt * a[0],
            q[1] + dt * v[1] + 0.5 * dt * dt * a[1],
        ];
        let a_new = acc(q);
        v = [
            v[0] + 0.5 * dt * (a[0] + a_new[0]),
            v[1] + 0.5 * dt * (a[1] + a_new[1]),
        ];
        a = a_new;
    }
    q
}

#[test]
fn kepler_orbit_jacobian_vjp_and_jvp() {
    let f = |p: &[f64]| kepler_verlet([p[0], p[1]], [p[2], p[3]], p[4], p[5], 40).to_vec();
    for p in [
        [1.0, 0.0, 0.0, 1.0, 1.0, 0.05],
        [0.8, 0.3, -0.4, 1.1, 1.3, 0.03],
    ] {
        let (q0, v0, gm, dt) = ([p[0], p[1]], [p[2], p[3]], p[4], p[5]);
        let want = fd_jacobian(f, &p);
        let (out, jac) = kepler_verlet_jacobian(q0, v0, gm, dt, 40);
        assert_eq!(out, kepler_verlet(q0, v0, gm, dt, 40));
        for i in 0..2 {
            assert_near("kepler jacobian", &jac[i], &want[i], FD);
        }
        let seed = [0.7, -1.3];
        let (_, dq0, dv0, dgm, ddt) = kepler_verlet_vjp(q0, v0, gm, dt, 40, seed);
        let got = [dq0[0], dq0[1], dv0[0], dv0[1], dgm, ddt];
        let want_vjp: Vec<f64> = (0..6)
            .map(|j| seed[0] * want[0][j] + seed[1] * want[1][j])
            .collect();
        assert_near("kepler vjp", &got, &want_vjp, FD);
        let v = direction(6);
        let (_, t) = kepler_verlet_jvp(q0, [v[0], v[1]], v0, [v[2], v[3]], gm, v[4], dt, v[5], 40);
        assert_near("kepler jvp", &t, &fd_directional(f, &p, &v), FD);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. A uniform Catmull–Rom spline through a slice of values
// ---------------------------------------------------------------------------------------------

/// The spline through (i, ysᵢ) at `t`, with the end segments' outer control points reflected.
#[differentiate(reverse, forward, hessian)]
fn catmull_rom(ys: &[f64], t: f64) -> f64 {
    let n = ys.len();
    let seg = (t.floor() as usize).min(n - 2);
    let u = t - seg as f64;
    let (p0, p1) = match seg {
        0 => (2.0 * ys[0] - ys[1], ys[0]),
        i => (ys[i - 1], ys[i]),
    };
    let (p2, p3) = match seg {
        i if i + 2 >= n => (ys[i + 1], 2.0 * ys[i + 1] - ys[i]),
        i => (ys[i + 1], ys[i + 2]),
    };
    0.5 * (2.0 * p1
        + (-p0 + p2) * u
        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * u * u
        + (-p0 + 3.0 * p1 - 3.0 * p2 + p3) * u * u * u)
}

#[test]
fn catmull_rom_derivatives_on_every_kind_of_segment() {
    let ys = [0.5, 1.7, 1.1, -0.4, 0.3];
    let f = |p: &[f64]| catmull_rom(&p[..5], p[5]);
    for t in [0.35, 1.6, 2.25, 3.8] {
        let mut p = ys.to_vec();
        p.push(t);
        let (value, dys, dt) = catmull_rom_grad(&ys, t);
        assert_eq!(value, catmull_rom(&ys, t));
        let mut got = dys.clone();
        got.push(dt);
        assert_near("catmull-rom gradient", &got, &fd_gradient(f, &p), FD);
        let v = direction(6);
        let (_, tangent) = catmull_rom_jvp(&ys, &v[..5], t, v[5]);
        assert!((tangent - dot(&got, &v)).abs() < 1e-12);
        let grad = |q: &[f64]| {
            let (_, mut g, gt) = catmull_rom_grad(&q[..5], q[5]);
            g.push(gt);
            g
        };
        let (_, _, _, hess) = catmull_rom_hessian(&ys, t);
        check_hessian("catmull-rom hessian", &hess, grad, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Piecewise-linear interpolation by binary search, as `numpy.interp`
// ---------------------------------------------------------------------------------------------

/// The interpolant through (xsᵢ, ysᵢ) at `x`, constant beyond the ends.
#[differentiate(reverse, forward, wrt(ys, x))]
fn interp(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let n = xs.len();
    if x <= xs[0] {
        return ys[0];
    }
    if x >= xs[n - 1] {
        return ys[n - 1];
    }
    let mut lo = 0;
    let mut hi = n - 1;
    while hi - lo > 1 {
        let mid = usize::midpoint(lo, hi);
        if xs[mid] <= x {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let t = (x - xs[lo]) / (xs[hi] - xs[lo]);
    ys[lo] * (1.0 - t) + ys[hi] * t
}

#[test]
fn interpolation_derivatives_by_hand() {
    let xs = [0.0, 0.5, 1.5, 2.0, 3.5, 4.0, 6.0];
    let ys = [1.0, -0.5, 2.0, 0.25, 3.0, 1.5, -1.0];
    for x in [-1.0, 0.2, 1.7, 2.9, 3.75, 5.5, 7.0] {
        let (value, dys, dx) = interp_grad(&xs, &ys, x);
        assert_eq!(value, interp(&xs, &ys, x));
        let mut want = vec![0.0; 7];
        let want_dx;
        if x <= xs[0] {
            want[0] = 1.0;
            want_dx = 0.0;
        } else if x >= xs[6] {
            want[6] = 1.0;
            want_dx = 0.0;
        } else {
            let k = xs.iter().rposition(|&v| v <= x).unwrap();
            let t = (x - xs[k]) / (xs[k + 1] - xs[k]);
            want[k] = 1.0 - t;
            want[k + 1] = t;
            want_dx = (ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k]);
        }
        assert_near("interp d ys", &dys, &want, EXACT);
        assert_near("interp d x", &[dx], &[want_dx], EXACT);
        let v = direction(7);
        let (_, t) = interp_jvp(&xs, &ys, &v, x, 0.4);
        assert!((t - (dot(&dys, &v) + 0.4 * dx)).abs() < 1e-12);
    }
}

// ---------------------------------------------------------------------------------------------
// 7. An exponential moving average by `fold`
// ---------------------------------------------------------------------------------------------

/// The squared distance of the series' exponential moving average from a target.
#[differentiate(reverse, forward, hessian)]
fn ema_miss(alpha: f64, xs: &[f64], target: f64) -> f64 {
    let level = xs.iter().skip(1).fold(xs[0], |m, &v| m + alpha * (v - m));
    (level - target).powi(2)
}

#[test]
fn ema_derivatives() {
    let xs = [1.0, 1.4, 0.9, 2.2, 1.8, 2.5];
    let f = |p: &[f64]| ema_miss(p[0], &p[1..7], p[7]);
    for (alpha, target) in [(0.3, 1.0), (0.85, 3.0)] {
        let mut p = vec![alpha];
        p.extend_from_slice(&xs);
        p.push(target);
        let (value, da, dxs, dt) = ema_miss_grad(alpha, &xs, target);
        assert_eq!(value, ema_miss(alpha, &xs, target));
        let mut got = vec![da];
        got.extend_from_slice(&dxs);
        got.push(dt);
        assert_near("ema gradient", &got, &fd_gradient(f, &p), FD);
        let v = direction(8);
        let (_, t) = ema_miss_jvp(alpha, v[0], &xs, &v[1..7], target, v[7]);
        assert!((t - dot(&got, &v)).abs() < 1e-12 * t.abs().max(1.0));
        let grad = |q: &[f64]| {
            let (_, a, mut g, b) = ema_miss_grad(q[0], &q[1..7], q[7]);
            g.insert(0, a);
            g.push(b);
            g
        };
        let (_, _, _, _, hess) = ema_miss_hessian(alpha, &xs, target);
        check_hessian("ema hessian", &hess, grad, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Rosenbrock's and Himmelblau's functions, generic over the float type
// ---------------------------------------------------------------------------------------------

/// Σᵢ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², over the windows of the slice.
#[differentiate(reverse, forward, hessian)]
fn rosenbrock<T: Float>(x: &[T]) -> T {
    let hundred = T::from(100.0).unwrap();
    x.windows(2)
        .map(|w| hundred * (w[1] - w[0] * w[0]).powi(2) + (T::one() - w[0]).powi(2))
        .fold(T::zero(), |a, b| a + b)
}

/// (x² + y − 11)² + (x + y² − 7)².
#[differentiate(reverse, forward, hessian)]
fn himmelblau<T: Float>(x: T, y: T) -> T {
    let a = x * x + y - T::from(11.0).unwrap();
    let b = x + y * y - T::from(7.0).unwrap();
    a * a + b * b
}

fn rosenbrock_gradient_by_hand(x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    for i in 0..x.len() - 1 {
        let e = x[i + 1] - x[i] * x[i];
        g[i] += -400.0 * x[i] * e - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * e;
    }
    g
}

#[test]
fn rosenbrock_at_f64_and_f32() {
    let x = [-1.2, 1.0, 0.4, 0.9];
    let (value, g) = rosenbrock_grad(&x);
    assert_eq!(value, rosenbrock(&x));
    assert_near(
        "rosenbrock gradient",
        &g,
        &rosenbrock_gradient_by_hand(&x),
        EXACT,
    );
    let (_, _, hess) = rosenbrock_hessian(&x);
    check_hessian("rosenbrock hessian", &hess, rosenbrock_gradient_by_hand, &x);
    let v = direction(4);
    let (_, t) = rosenbrock_jvp(&x, &v);
    assert!((t - dot(&g, &v)).abs() < 1e-10 * t.abs());
    let x32 = x.map(|v| v as f32);
    let (value32, g32) = rosenbrock_grad(&x32);
    assert!((f64::from(value32) - value).abs() < 1e-4 * value);
    let g32: Vec<f64> = g32.iter().map(|&v| f64::from(v)).collect();
    assert_near("rosenbrock f32 gradient", &g32, &g, 1e-5);
}

#[test]
fn himmelblau_at_f64_and_f32() {
    let by_hand = |x: f64, y: f64| {
        let a = x * x + y - 11.0;
        let b = x + y * y - 7.0;
        [4.0 * a * x + 2.0 * b, 2.0 * a + 4.0 * b * y]
    };
    for (x, y) in [(3.0, 2.0), (-0.27, -0.92), (1.5, -2.5)] {
        let (value, dx, dy) = himmelblau_grad(x, y);
        assert_eq!(value, himmelblau(x, y));
        assert_near("himmelblau gradient", &[dx, dy], &by_hand(x, y), EXACT);
        let (_, _, _, hess) = himmelblau_hessian(x, y);
        let want = [
            12.0 * x * x + 4.0 * y - 42.0,
            4.0 * (x + y),
            4.0 * (x + y),
            12.0 * y * y + 4.0 * x - 26.0,
        ];
        assert_near("himmelblau hessian", hess.as_flattened(), &want, EXACT);
        let (_, _, _, hx, hy) = himmelblau_hvp(x, 1.0, y, -0.5);
        assert_near(
            "himmelblau hvp",
            &[hx, hy],
            &[want[0] - 0.5 * want[1], want[2] - 0.5 * want[3]],
            EXACT,
        );
        let (xf, yf) = (x as f32, y as f32);
        let (_, dx32, dy32) = himmelblau_grad(xf, yf);
        let want32 = by_hand(f64::from(xf), f64::from(yf));
        assert_near(
            "himmelblau f32 gradient",
            &[f64::from(dx32), f64::from(dy32)],
            &want32,
            1e-5,
        );
        let (_, t32) = himmelblau_jvp(xf, 1.0, yf, 0.0);
        assert!((f64::from(t32) - want32[0]).abs() < 1e-4 * want32[0].abs().max(1.0));
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Horner's rule by `rev().fold`
// ---------------------------------------------------------------------------------------------

/// Σₖ cₖ xᵏ, coefficients from the constant term up.
#[differentiate(reverse, forward, hessian)]
fn horner_fold(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &ck| acc * x + ck)
}

#[test]
fn horner_fold_derivatives_by_hand() {
    let c = [0.5, -1.0, 2.0, 0.25, -0.75];
    for x in [-1.3, 0.0, 0.6, 2.0] {
        let (value, dc, dx) = horner_fold_grad(&c, x);
        assert_eq!(value, horner_fold(&c, x));
        let powers: Vec<f64> = (0..5).map(|k| x.powi(k)).collect();
        assert_near("horner d c", &dc, &powers, EXACT);
        let p1: f64 = (1..5).map(|k| k as f64 * c[k] * x.powi(k as i32 - 1)).sum();
        let p2: f64 = (2..5)
            .map(|k| (k * (k - 1)) as f64 * c[k] * x.powi(k as i32 - 2))
            .sum();
        assert_near("horner d x", &[dx], &[p1], EXACT);
        let (_, _, _, hess) = horner_fold_hessian(&c, x);
        // ∂²/∂cₖ∂x = k x^(k−1), ∂²/∂x² = p''(x), ∂²/∂cⱼ∂cₖ = 0.
        let mut want = vec![0.0; 36];
        for k in 1..5 {
            let d = k as f64 * x.powi(k as i32 - 1);
            want[k * 6 + 5] = d;
            want[5 * 6 + k] = d;
        }
        want[35] = p2;
        assert_near("horner hessian", &hess, &want, EXACT);
        let (_, t) = horner_fold_jvp(&c, &[0.0; 5], x, 1.0);
        assert_near("horner jvp", &[t], &[p1], EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 10. A 3×3 determinant by cofactors and a Gauss–Seidel solve
// ---------------------------------------------------------------------------------------------

/// det A by expansion along the first row, A row-major.
#[differentiate(reverse, forward, hessian)]
fn det3(a: &[f64; 9]) -> f64 {
    let mut det = 0.0;
    for j in 0..3 {
        let j1 = (j + 1) % 3;
        let j2 = (j + 2) % 3;
        det += a[j] * (a[3 + j1] * a[6 + j2] - a[3 + j2] * a[6 + j1]);
    }
    det
}

/// 25 Gauss–Seidel sweeps for A x = b from x = 0 (A diagonally dominant).
#[differentiate(reverse, forward)]
fn gauss_seidel(a: &[f64; 9], b: [f64; 3]) -> [f64; 3] {
    let mut x = [0.0; 3];
    for _ in 0..25 {
        for i in 0..3 {
            let mut s = b[i];
            for j in 0..3 {
                if j != i {
                    s -= a[i * 3 + j] * x[j];
                }
            }
            x[i] = s / a[i * 3 + i];
        }
    }
    x
}

/// ∂ det A / ∂aᵢⱼ is the cofactor Cᵢⱼ.
fn cofactors(a: &[f64]) -> Vec<f64> {
    let mut c = vec![0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            let (i1, i2) = ((i + 1) % 3, (i + 2) % 3);
            let (j1, j2) = ((j + 1) % 3, (j + 2) % 3);
            c[i * 3 + j] = a[i1 * 3 + j1] * a[i2 * 3 + j2] - a[i1 * 3 + j2] * a[i2 * 3 + j1];
        }
    }
    c
}

#[test]
fn determinant_gradient_is_the_cofactor_matrix() {
    let a = [2.0, -1.0, 0.5, 0.3, 1.5, -2.0, 1.0, 0.7, 3.0];
    let (value, g) = det3_grad(&a);
    assert_eq!(value, det3(&a));
    assert_near(
        "det value",
        &[value],
        &[dot(&a[..3], &cofactors(&a)[..3])],
        EXACT,
    );
    assert_near("det gradient", &g, &cofactors(&a), EXACT);
    let (_, _, hess) = det3_hessian(&a);
    check_hessian("det hessian", hess.as_flattened(), cofactors, &a);
    let v = direction(9);
    let (_, t) = det3_jvp(&a, &v.clone().try_into().unwrap());
    assert!((t - dot(&g, &v)).abs() < 1e-12);
}

#[test]
fn gauss_seidel_jacobian_vjp_and_jvp() {
    let a = [4.0, -1.0, 0.5, 0.3, 5.0, -2.0, 1.0, 0.7, 3.5];
    let b = [1.0, -2.0, 0.5];
    let f = |p: &[f64]| {
        let a: [f64; 9] = p[..9].try_into().unwrap();
        gauss_seidel(&a, [p[9], p[10], p[11]]).to_vec()
    };
    let mut p = a.to_vec();
    p.extend_from_slice(&b);
    let want = fd_jacobian(f, &p);
    let (out, jac) = gauss_seidel_jacobian(&a, b);
    assert_eq!(out, gauss_seidel(&a, b));
    for i in 0..3 {
        assert_near("gauss-seidel jacobian", &jac[i], &want[i], FD);
    }
    let seed = [0.3, -1.0, 2.0];
    let (_, da, db) = gauss_seidel_vjp(&a, b, seed);
    let mut got = da.to_vec();
    got.extend_from_slice(&db);
    let want_vjp: Vec<f64> = (0..12)
        .map(|j| (0..3).map(|i| seed[i] * want[i][j]).sum())
        .collect();
    assert_near("gauss-seidel vjp", &got, &want_vjp, FD);
    let v = direction(12);
    let va: [f64; 9] = v[..9].try_into().unwrap();
    let (_, t) = gauss_seidel_jvp(&a, &va, b, [v[9], v[10], v[11]]);
    assert_near("gauss-seidel jvp", &t, &fd_directional(f, &p, &v), FD);
}

// ---------------------------------------------------------------------------------------------
// 11. A portfolio's variance wᵀΣw, Σ a flat row-major slice
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian, wrt(w))]
fn portfolio_variance(w: &[f64], sigma: &[f64]) -> f64 {
    let n = w.len();
    let mut var = 0.0;
    for i in 0..n {
        for j in 0..n {
            var += w[i] * sigma[i * n + j] * w[j];
        }
    }
    var
}

#[test]
fn portfolio_variance_derivatives_by_hand() {
    let sigma = [
        0.04, 0.006, -0.002, 0.001, //
        0.006, 0.09, 0.01, 0.0, //
        -0.002, 0.01, 0.0225, 0.003, //
        0.001, 0.0, 0.003, 0.0625,
    ];
    let w = [0.4, 0.3, -0.1, 0.4];
    let (value, g) = portfolio_variance_grad(&w, &sigma);
    assert_eq!(value, portfolio_variance(&w, &sigma));
    // ∇ = (Σ + Σᵀ) w, H = Σ + Σᵀ.
    let mut h = vec![0.0; 16];
    for i in 0..4 {
        for j in 0..4 {
            h[i * 4 + j] = sigma[i * 4 + j] + sigma[j * 4 + i];
        }
    }
    let want: Vec<f64> = (0..4).map(|i| dot(&h[i * 4..(i + 1) * 4], &w)).collect();
    assert_near("portfolio gradient", &g, &want, EXACT);
    let mut acc = vec![1.0; 4];
    let (value_into,) = portfolio_variance_grad_into(&w, &mut acc, &sigma);
    assert_eq!(value_into, value);
    let plus_one: Vec<f64> = want.iter().map(|v| v + 1.0).collect();
    assert_near("portfolio grad_into", &acc, &plus_one, EXACT);
    let (_, _, hess) = portfolio_variance_hessian(&w, &sigma);
    assert_near("portfolio hessian", &hess, &h, EXACT);
    let v = direction(4);
    let (_, t) = portfolio_variance_jvp(&w, &v, &sigma);
    assert_near("portfolio jvp", &[t], &[dot(&want, &v)], EXACT);
}

// ---------------------------------------------------------------------------------------------
// 12. Logistic growth by Euler steps, stopping once the population settles
// ---------------------------------------------------------------------------------------------

/// x' = r x (1 − x/K) from x₀, stepped until a step moves x by less than `tol` (at most 10,000
/// steps); returns the population plus the time it took, scaled.
#[differentiate(reverse, forward, hessian, wrt(r, k, x0))]
fn logistic_growth(r: f64, k: f64, x0: f64, dt: f64, tol: f64) -> f64 {
    let mut x = x0;
    let mut t = 0.0;
    let mut area = 0.0;
    for _ in 0..10_000 {
        let step = dt * r * x * (1.0 - x / k);
        x += step;
        t += dt;
        area += dt * x;
        if step.abs() < tol {
            break;
        }
    }
    x + 0.01 * t + 0.001 * area
}

#[test]
fn logistic_growth_derivatives() {
    for (r, k, x0, tol) in [
        (0.8, 10.0, 0.5, 1e-3),
        (1.5, 4.0, 6.0, 1e-2),
        (0.3, 2.0, 0.1, 0.5),
    ] {
        let f = |p: &[f64]| logistic_growth(p[0], p[1], p[2], 0.1, tol);
        let p = [r, k, x0];
        let (value, dr, dk, dx0) = logistic_growth_grad(r, k, x0, 0.1, tol);
        assert_eq!(value, logistic_growth(r, k, x0, 0.1, tol));
        assert_near("logistic gradient", &[dr, dk, dx0], &fd_gradient(f, &p), FD);
        let v = direction(3);
        let (_, t) = logistic_growth_jvp(r, v[0], k, v[1], x0, v[2], 0.1, tol);
        assert!((t - dot(&[dr, dk, dx0], &v)).abs() < 1e-10 * t.abs().max(1.0));
        let grad = |q: &[f64]| {
            let (_, a, b, c) = logistic_growth_grad(q[0], q[1], q[2], 0.1, tol);
            vec![a, b, c]
        };
        let (_, _, _, _, hess) = logistic_growth_hessian(r, k, x0, 0.1, tol);
        check_hessian("logistic hessian", hess.as_flattened(), grad, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 13. Single-query scaled dot-product attention
// ---------------------------------------------------------------------------------------------

/// softmax(q·kᵢ/√2)-weighted average of the values; keys and values are rows of two.
#[differentiate(reverse, forward)]
fn attend(q: [f64; 2], keys: &[f64], values: &[f64]) -> [f64; 2] {
    let n = keys.len() / 2;
    let scale = 1.0 / 2f64.sqrt();
    let mut m = f64::NEG_INFINITY;
    let mut scores = vec![0.0; n];
    for (i, k) in keys.chunks_exact(2).enumerate() {
        scores[i] = (q[0] * k[0] + q[1] * k[1]) * scale;
        m = m.max(scores[i]);
    }
    let mut denom = 0.0;
    let mut out = [0.0; 2];
    for (s, v) in scores.iter().zip(values.chunks_exact(2)) {
        let e = (s - m).exp();
        denom += e;
        out[0] += e * v[0];
        out[1] += e * v[1];
    }
    [out[0] / denom, out[1] / denom]
}

#[test]
fn attention_jacobian_vjp_and_jvp() {
    let keys = [0.5, -1.0, 1.2, 0.3, -0.7, 0.8];
    let values = [1.0, 2.0, -0.5, 0.4, 3.0, -1.5];
    let f = |p: &[f64]| attend([p[0], p[1]], &p[2..8], &p[8..14]).to_vec();
    for q in [[0.3, 0.9], [2.0, -1.0]] {
        let mut p = q.to_vec();
        p.extend_from_slice(&keys);
        p.extend_from_slice(&values);
        let want = fd_jacobian(f, &p);
        let (out, jac) = attend_jacobian(q, &keys, &values);
        assert_eq!(out, attend(q, &keys, &values));
        assert_eq!(jac.len(), 2 * 14);
        for i in 0..2 {
            assert_near(
                "attention jacobian",
                &jac[i * 14..(i + 1) * 14],
                &want[i],
                FD,
            );
        }
        let seed = [-0.4, 1.1];
        let (_, dq, dk, dv) = attend_vjp(q, &keys, &values, seed);
        let mut got = dq.to_vec();
        got.extend_from_slice(&dk);
        got.extend_from_slice(&dv);
        let want_vjp: Vec<f64> = (0..14)
            .map(|j| seed[0] * want[0][j] + seed[1] * want[1][j])
            .collect();
        assert_near("attention vjp", &got, &want_vjp, FD);
        let v = direction(14);
        let (_, t) = attend_jvp(q, [v[0], v[1]], &keys, &v[2..8], &values, &v[8..14]);
        assert_near("attention jvp", &t, &fd_directional(f, &p, &v), FD);
    }
}

// ---------------------------------------------------------------------------------------------
// 14. A Gaussian process's negative log marginal likelihood through a 3×3 Cholesky factor
// ---------------------------------------------------------------------------------------------

/// Squared-exponential kernel with log length scale, log signal and log noise standard
/// deviations; L Lᵀ = K + σₙ² I, α = L⁻¹ y, −log p = ½ αᵀα + Σ log Lᵢᵢ + (3/2) log 2π.
#[differentiate(reverse, hessian, wrt(log_ell, log_sf, log_sn))]
fn gp_nll(log_ell: f64, log_sf: f64, log_sn: f64, xs: &[f64; 3], ys: &[f64; 3]) -> f64 {
    let ell = log_ell.exp();
    let sf2 = (2.0 * log_sf).exp();
    let sn2 = (2.0 * log_sn).exp();
    let mut k = [0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            let d = (xs[i] - xs[j]) / ell;
            k[i * 3 + j] = sf2 * (-0.5 * d * d).exp();
        }
        k[i * 3 + i] += sn2;
    }
    let mut l = [0.0; 9];
    for i in 0..3 {
        for j in 0..=i {
            let mut s = k[i * 3 + j];
            for p in 0..j {
                s -= l[i * 3 + p] * l[j * 3 + p];
            }
            if i == j {
                l[i * 3 + i] = s.sqrt();
            } else {
                l[i * 3 + j] = s / l[j * 3 + j];
            }
        }
    }
    let mut alpha = [0.0; 3];
    for i in 0..3 {
        let mut s = ys[i];
        for p in 0..i {
            s -= l[i * 3 + p] * alpha[p];
        }
        alpha[i] = s / l[i * 3 + i];
    }
    let quad: f64 = alpha.iter().map(|a| a * a).sum();
    let log_det: f64 = (0..3).map(|i| l[i * 3 + i].ln()).sum();
    0.5 * quad + log_det + 1.5 * (2.0 * PI).ln()
}

/// The same likelihood by the closed-form 3×3 inverse and determinant.
fn gp_nll_direct(p: &[f64], xs: &[f64; 3], ys: &[f64; 3]) -> f64 {
    let (ell, sf2, sn2) = (p[0].exp(), (2.0 * p[1]).exp(), (2.0 * p[2]).exp());
    let mut k = [0.0; 9];
    for i in 0..3 {
        for j in 0..3 {
            let d = (xs[i] - xs[j]) / ell;
            k[i * 3 + j] = sf2 * (-0.5 * d * d).exp() + if i == j { sn2 } else { 0.0 };
        }
    }
    let c = cofactors(&k);
    let det = dot(&k[..3], &c[..3]);
    let mut quad = 0.0;
    for i in 0..3 {
        for j in 0..3 {
            quad += ys[i] * c[j * 3 + i] / det * ys[j];
        }
    }
    0.5 * quad + 0.5 * det.ln() + 1.5 * (2.0 * PI).ln()
}

#[test]
fn gaussian_process_likelihood_derivatives() {
    let xs = [-1.0, 0.3, 1.4];
    let ys = [0.2, 0.9, -0.4];
    for p in [[0.0, 0.0, -1.0], [-0.5, 0.4, -2.0], [0.7, -0.3, -0.5]] {
        let value = gp_nll(p[0], p[1], p[2], &xs, &ys);
        assert_near("gp value", &[value], &[gp_nll_direct(&p, &xs, &ys)], 1e-12);
        let (v, a, b, c) = gp_nll_grad(p[0], p[1], p[2], &xs, &ys);
        assert_eq!(v, value);
        let want = fd_gradient(|q| gp_nll_direct(q, &xs, &ys), &p);
        assert_near("gp gradient", &[a, b, c], &want, FD);
        let grad = |q: &[f64]| {
            let (_, a, b, c) = gp_nll_grad(q[0], q[1], q[2], &xs, &ys);
            vec![a, b, c]
        };
        let (_, _, _, _, hess) = gp_nll_hessian(p[0], p[1], p[2], &xs, &ys);
        check_hessian("gp hessian", hess.as_flattened(), grad, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 15. Least squares with a Huber penalty on the weights
// ---------------------------------------------------------------------------------------------

/// ½‖Xw − y‖²/n + λ Σ huber(wⱼ), the penalty quadratic on [−1, 1] and linear outside.
#[differentiate(reverse, forward, hessian, wrt(w))]
fn huber_ridge(w: &[f64], x: &[f64], y: &[f64], lambda: f64) -> f64 {
    let d = w.len();
    let n = y.len();
    let mut fit = 0.0;
    for (row, &yi) in x.chunks_exact(d).zip(y) {
        let r = row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() - yi;
        fit += 0.5 * r * r;
    }
    let mut penalty = 0.0;
    for &wj in w {
        penalty += match wj {
            -1.0..=1.0 => 0.5 * wj * wj,
            v if v > 1.0 => v - 0.5,
            v => -v - 0.5,
        };
    }
    fit / n as f64 + lambda * penalty
}

#[test]
fn huber_ridge_derivatives_by_hand() {
    let x = [
        1.0, 0.5, -0.3, 2.0, 0.8, -1.1, 1.5, 0.2, 0.0, -0.6, 1.3, 0.9,
    ];
    let y = [0.7, -1.2, 0.4, 2.0];
    let lambda = 0.3;
    for w in [[0.5, -2.5, 1.7], [-0.2, 0.9, -1.4]] {
        let (value, g) = huber_ridge_grad(&w, &x, &y, lambda);
        assert_eq!(value, huber_ridge(&w, &x, &y, lambda));
        let mut want = vec![0.0; 3];
        let mut h = vec![0.0; 9];
        for (row, &yi) in x.chunks_exact(3).zip(&y) {
            let r = dot(row, &w) - yi;
            for j in 0..3 {
                want[j] += r * row[j] / 4.0;
                for k in 0..3 {
                    h[j * 3 + k] += row[j] * row[k] / 4.0;
                }
            }
        }
        for j in 0..3 {
            want[j] += lambda * w[j].clamp(-1.0, 1.0);
            if w[j].abs() <= 1.0 {
                h[j * 3 + j] += lambda;
            }
        }
        assert_near("huber ridge gradient", &g, &want, EXACT);
        let (_, _, hess) = huber_ridge_hessian(&w, &x, &y, lambda);
        assert_near("huber ridge hessian", &hess, &h, EXACT);
        let v = direction(3);
        let (_, t) = huber_ridge_jvp(&w, &v, &x, &y, lambda);
        assert_near("huber ridge jvp", &[t], &[dot(&want, &v)], EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 16. The maximum drawdown of a price series, by a running maximum
// ---------------------------------------------------------------------------------------------

/// maxⱼ (maxᵢ≤ⱼ pᵢ − pⱼ) / maxᵢ≤ⱼ pᵢ.
#[differentiate(reverse, forward)]
fn max_drawdown(prices: &[f64]) -> f64 {
    let mut peak = prices[0];
    let mut worst = 0.0;
    for &p in &prices[1..] {
        peak = peak.max(p);
        worst = f64::max(worst, (peak - p) / peak);
    }
    worst
}

#[test]
fn max_drawdown_derivatives_by_hand() {
    let series = [
        [100.0, 104.0, 98.0, 110.0, 95.0, 101.0, 107.0],
        [50.0, 48.0, 53.0, 49.5, 60.0, 58.0, 59.0],
    ];
    for prices in series {
        let (value, g) = max_drawdown_grad(&prices);
        assert_eq!(value, max_drawdown(&prices));
        // The worst drawdown (P − pⱼ)/P: ∂/∂P = pⱼ/P², ∂/∂pⱼ = −1/P.
        let mut best = (0.0, 0, 0);
        let mut peak = 0;
        for j in 1..prices.len() {
            if prices[j] > prices[peak] {
                peak = j;
            }
            let dd = (prices[peak] - prices[j]) / prices[peak];
            if dd > best.0 {
                best = (dd, peak, j);
            }
        }
        let (_, i, j) = best;
        let mut want = vec![0.0; prices.len()];
        want[i] = prices[j] / (prices[i] * prices[i]);
        want[j] = -1.0 / prices[i];
        assert_near("drawdown gradient", &g, &want, EXACT);
        let v = direction(prices.len());
        let (_, t) = max_drawdown_jvp(&prices, &v);
        assert_near("drawdown jvp", &[t], &[dot(&want, &v)], EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 17. A root by bisection, polished by one Newton step
// ---------------------------------------------------------------------------------------------

/// The real root of x³ + x = c: bisection on [−10, 10] to a tolerance, then one Newton step,
/// which carries the implicit derivative dx/dc = 1/(3x² + 1).
#[differentiate(reverse, forward)]
fn cubic_root(c: f64) -> f64 {
    let mut lo = -10.0;
    let mut hi = 10.0;
    loop {
        let mid = 0.5 * (lo + hi);
        if mid * mid * mid + mid - c > 0.0 {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo < 1e-9 {
            break;
        }
    }
    let x = 0.5 * (lo + hi);
    x - (x * x * x + x - c) / (3.0 * x * x + 1.0)
}

#[test]
fn bisection_root_derivative_by_hand() {
    for c in [-7.5, -0.3, 0.0, 2.0, 30.0] {
        let (x, dc) = cubic_root_grad(c);
        assert_eq!(x, cubic_root(c));
        assert!((x * x * x + x - c).abs() < 1e-9 * c.abs().max(1.0));
        let want = 1.0 / (3.0 * x * x + 1.0);
        assert_near("root derivative", &[dc], &[want], 1e-8);
        let (_, t) = cubic_root_jvp(c, 2.0);
        assert_near("root jvp", &[t], &[2.0 * want], 1e-8);
    }
}

// ---------------------------------------------------------------------------------------------
// 18. A recurrent network's loss over a sequence, a struct of weights with `wrt(self)`
// ---------------------------------------------------------------------------------------------

/// A two-unit Elman network: h ← tanh(W h + u x + b), read out by v·h at the end.
#[derive(Clone, Debug, Default, PartialEq)]
struct Elman {
    w: [f64; 4],
    u: [f64; 2],
    b: [f64; 2],
    v: [f64; 2],
}

impl Elman {
    #[differentiate(reverse, forward, hessian, wrt(self))]
    fn loss(&self, xs: &[f64], target: f64) -> f64 {
        let mut h = [0.0; 2];
        for &x in xs {
            h = [
                (self.w[0] * h[0] + self.w[1] * h[1] + self.u[0] * x + self.b[0]).tanh(),
                (self.w[2] * h[0] + self.w[3] * h[1] + self.u[1] * x + self.b[1]).tanh(),
            ];
        }
        let y = self.v[0] * h[0] + self.v[1] * h[1];
        (y - target).powi(2)
    }

    fn flat(&self) -> Vec<f64> {
        [&self.w[..], &self.u, &self.b, &self.v].concat()
    }

    fn from_flat(p: &[f64]) -> Elman {
        Elman {
            w: p[0..4].try_into().unwrap(),
            u: p[4..6].try_into().unwrap(),
            b: p[6..8].try_into().unwrap(),
            v: p[8..10].try_into().unwrap(),
        }
    }
}

#[test]
fn elman_gradient_jvp_and_hvp() {
    let xs = [0.5, -0.3, 1.2, 0.8];
    let p = [0.3, -0.5, 0.8, 0.1, 0.9, -0.4, 0.05, -0.2, 1.1, -0.7];
    let m = Elman::from_flat(&p);
    for target in [0.4, -1.0] {
        let (value, d) = m.loss_grad(&xs, target);
        assert_eq!(value, m.loss(&xs, target));
        let want = fd_gradient(|q| Elman::from_flat(q).loss(&xs, target), &p);
        assert_near("elman gradient", &d.flat(), &want, FD);
        let v = direction(10);
        let (_, t) = m.loss_jvp(&Elman::from_flat(&v), &xs, target);
        assert_near("elman jvp", &[t], &[dot(&d.flat(), &v)], EXACT);
        let grad = |q: &[f64]| Elman::from_flat(q).loss_grad(&xs, target).1.flat();
        let (_, _, hv) = m.loss_hvp(&Elman::from_flat(&v), &xs, target);
        assert_near("elman hvp", &hv.flat(), &fd_directional(grad, &p, &v), 1e-5);
    }
}

// ---------------------------------------------------------------------------------------------
// 19. Soft dynamic time warping (Cuturi and Blondel, 2017)
// ---------------------------------------------------------------------------------------------

/// The soft-DTW discrepancy between two series, by its (n+1)×(m+1) table with infinite borders
/// and a soft minimum shifted by the hard one.
#[differentiate(reverse, forward, hessian, wrt(x, y))]
fn soft_dtw(x: &[f64], y: &[f64], gamma: f64) -> f64 {
    let n = x.len();
    let m = y.len();
    let w = m + 1;
    let mut r = vec![f64::INFINITY; (n + 1) * w];
    r[0] = 0.0;
    for i in 1..=n {
        for j in 1..=m {
            let cost = (x[i - 1] - y[j - 1]).powi(2);
            let a = r[(i - 1) * w + j - 1];
            let b = r[(i - 1) * w + j];
            let c = r[i * w + j - 1];
            let lo = a.min(b).min(c);
            let s =
                (-(a - lo) / gamma).exp() + (-(b - lo) / gamma).exp() + (-(c - lo) / gamma).exp();
            r[i * w + j] = cost + lo - gamma * s.ln();
        }
    }
    r[n * w + m]
}

#[test]
fn soft_dtw_derivatives() {
    let x = [0.0, 0.5, 1.2, 0.8];
    let y = [0.1, 1.0, 0.7];
    let p = [&x[..], &y].concat();
    for gamma in [0.5, 0.05] {
        let f = |q: &[f64]| soft_dtw(&q[..4], &q[4..], gamma);
        let (value, dx, dy) = soft_dtw_grad(&x, &y, gamma);
        assert_eq!(value, f(&p));
        let got = [dx, dy].concat();
        assert_near("soft-dtw gradient", &got, &fd_gradient(f, &p), FD);
        let v = direction(7);
        let (_, t) = soft_dtw_jvp(&x, &v[..4], &y, &v[4..], gamma);
        assert_near("soft-dtw jvp", &[t], &[dot(&got, &v)], EXACT);
        let grad = |q: &[f64]| {
            let (_, a, b) = soft_dtw_grad(&q[..4], &q[4..], gamma);
            [a, b].concat()
        };
        let (_, _, _, hess) = soft_dtw_hessian(&x, &y, gamma);
        check_hessian("soft-dtw hessian", &hess, grad, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 20. A Bézier curve by de Casteljau's algorithm, in place in a copy of the control points
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn de_casteljau(p: &[f64], t: f64) -> f64 {
    let n = p.len();
    let mut b = p.to_vec();
    for r in 1..n {
        for i in 0..n - r {
            b[i] = (1.0 - t) * b[i] + t * b[i + 1];
        }
    }
    b[0]
}

#[test]
fn de_casteljau_matches_the_bernstein_form() {
    let p = [0.0, 1.5, -0.5, 2.0, 1.0];
    let binom = [1.0, 4.0, 6.0, 4.0, 1.0];
    for t in [0.2, 0.5, 0.9] {
        let (value, dp, dt) = de_casteljau_grad(&p, t);
        assert_eq!(value, de_casteljau(&p, t));
        // ∂B/∂pₖ = C(4, k) tᵏ (1 − t)⁴⁻ᵏ, ∂B/∂t = 4 Σₖ (pₖ₊₁ − pₖ) C(3, k) tᵏ (1 − t)³⁻ᵏ.
        let bern: Vec<f64> = (0..5)
            .map(|k| binom[k] * t.powi(k as i32) * (1.0 - t).powi(4 - k as i32))
            .collect();
        assert_near("de casteljau value", &[value], &[dot(&bern, &p)], EXACT);
        assert_near("de casteljau d p", &dp, &bern, EXACT);
        let b3 = [1.0, 3.0, 3.0, 1.0];
        let want_dt: f64 = (0..4)
            .map(|k| {
                4.0 * (p[k + 1] - p[k]) * b3[k] * t.powi(k as i32) * (1.0 - t).powi(3 - k as i32)
            })
            .sum();
        assert_near("de casteljau d t", &[dt], &[want_dt], EXACT);
        let q = [&p[..], &[t]].concat();
        let grad = |q: &[f64]| {
            let (_, mut g, gt) = de_casteljau_grad(&q[..5], q[5]);
            g.push(gt);
            g
        };
        let (_, _, _, hess) = de_casteljau_hessian(&p, t);
        check_hessian("de casteljau hessian", &hess, grad, &q);
        let v = direction(6);
        let (_, tangent) = de_casteljau_jvp(&p, &v[..5], t, v[5]);
        assert_near("de casteljau jvp", &[tangent], &[dot(&grad(&q), &v)], EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// A constant index table passed by reference to a helper that writes into a buffer
// ---------------------------------------------------------------------------------------------

/// `out[i] = x[idx[i]] · s`: the indices a constant slice before the out-parameter.
#[differentiate(reverse, forward)]
fn gather_scaled(x: &[f64], idx: &[usize], s: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = x[idx[i]] * s;
    }
}

/// `b = [x₂y, x₀y]` from the `const` table `K = [2, 0]` passed as `&K`, written twice by a
/// loop; f = b₀b₁ + b₀ = x₀x₂y² + x₂y.
#[differentiate(reverse, forward)]
fn gathered_by_const_table(x: &[f64], y: f64) -> f64 {
    const K: [usize; 2] = [2, 0];
    let mut b = [0.0; 2];
    for _ in 0..2 {
        gather_scaled(x, &K, y, &mut b);
    }
    b[0] * b[1] + b[0]
}

/// The same after an early return, the table declared in the block that follows it.
#[differentiate(reverse, forward)]
#[allow(clippy::items_after_statements)] // the table declared after the `return`, where it is used
fn gathered_by_const_table_after_return(x: &[f64], y: f64) -> f64 {
    if y > 5.0 {
        return y;
    }
    const K: [usize; 2] = [2, 0];
    let mut b = [0.0; 2];
    gather_scaled(x, &K, y, &mut b);
    b[0] * b[1] + b[0]
}

#[test]
fn const_index_tables_are_passed_by_reference_to_buffer_helpers() {
    let x = [0.7, -1.3, 1.9];
    let y = -0.8;
    // ∂f/∂x = (x₂y², 0, x₀y² + y), ∂f/∂y = 2x₀x₂y + x₂.
    let want_x = [x[2] * y * y, 0.0, x[0] * y * y + y];
    let want_y = 2.0 * x[0] * x[2] * y + x[2];
    let want = x[0] * x[2] * y * y + x[2] * y;
    for (name, grad, jvp) in [
        (
            "loop",
            gathered_by_const_table_grad as fn(&[f64], f64) -> (f64, Vec<f64>, f64),
            gathered_by_const_table_jvp as fn(&[f64], &[f64], f64, f64) -> (f64, f64),
        ),
        (
            "after return",
            gathered_by_const_table_after_return_grad,
            gathered_by_const_table_after_return_jvp,
        ),
    ] {
        let (value, d_x, d_y) = grad(&x, y);
        assert_near(name, &[value], &[want], EXACT);
        assert_near(name, &d_x, &want_x, EXACT);
        assert_near(name, &[d_y], &[want_y], EXACT);
        let v = [0.3, -0.6, 0.2];
        let (tv, tangent) = jvp(&x, &v, y, 0.5);
        assert_near(
            name,
            &[tv, tangent],
            &[want, dot(&want_x, &v) + 0.5 * want_y],
            EXACT,
        );
    }
}

//! Numerical programs that need Jacobians, vector-Jacobian products, Jacobian-vector products,
//! Hessians and Hessian-vector products, ported as their authors write them and checked against
//! oracles that do not go through the macro: closed forms where they are short, fourth-order
//! central finite differences of the original function otherwise, and, for second order, central
//! differences of a gradient that was itself checked.
//!
//! The programs:
//! - the bundle-adjustment reprojection error of `ADBench` (`computeReprojError` with
//!   `rodrigues_rotate_point`, `radial_distort` and `project`, `microsoft/ADBench`,
//!   `src/cpp/shared/ba.h`), helpers writing into `&mut [f64]` buffers as the C++ does: the
//!   2 × 15 Jacobian with respect to the camera (11), the point (3) and the weight, `ba_objective`
//!   over several observations into two output buffers, the Hessian of one observation's
//!   squared error, and the gradient (checked as `Jᵀr`) and 35 × 35 Hessian of the whole cost;
//! - Robertson's stiff chemical kinetics (also in `f32`, rate constants as parameters), Van der
//!   Pol's oscillator (`f64` and `f32`), Lorenz's system and a classical Runge–Kutta step of it
//!   that calls it four times (`let k1: [f64; 3] = lorenz(u, p);`), and the one-dimensional
//!   Brusselator writing into a `&mut [f64]` (Hairer and Wanner, *Solving Ordinary Differential
//!   Equations II*, §IV.1; Hairer, Nørsett and Wanner, I, §II.1): Jacobians against closed
//!   forms, columns by `f_jvp`, rows by `f_vjp_into`, second order by `f_hvp`/`f_hvp_into`;
//! - the gravitational N-body right-hand side into a buffer and its Hamiltonian (Hairer, Lubich
//!   and Wanner, *Geometric Numerical Integration*, §I.2.4), the forces checked as the
//!   Hamiltonian's gradient and its 22 × 22 Hessian;
//! - Newton–Raphson on the logistic-regression log-likelihood (Hastie, Tibshirani and Friedman,
//!   *The Elements of Statistical Learning*, §4.4.1) and on the Poisson-regression one
//!   (McCullagh and Nelder, *Generalized Linear Models*, §6.2, generic over `T: Float`, also in
//!   `f32`), `f_hessian` against `−Xᵀ W X`;
//! - the Gamma log-likelihood in its shape and rate, maximised by Newton's method, and the
//!   Student-t log-likelihood in location, scale and degrees of freedom (Lange, Little and
//!   Taylor, JASA 1989), both through *Numerical Recipes*' Lanczos `gammln` (§6.1), their
//!   Hessians against the trigamma function summed independently;
//! - inverse kinematics of a planar three-link arm by damped least squares (Buss, "Introduction
//!   to inverse kinematics with Jacobian transpose, pseudoinverse and damped least squares
//!   methods", 2004), in `f64` and `f32`;
//! - Gauss–Newton on NIST StRD's Misra1a, the residuals an array `[f64; 14]`, to the certified
//!   values;
//! - the Lennard-Jones pair routine returning `(f64, [f64; 2])` (energy and force, Allen and
//!   Tildesley, *Computer Simulation of Liquids*), and callers that destructure it
//!   (`let (u, f): (f64, [f64; 2]) = lennard_jones(..)`) in every mode: a cluster's energy and
//!   virial, and Newton's method on its energy to the equilateral minimum;
//! - functions of slices, their Jacobians as row-major `Vec`s and through `f_jacobian_into`:
//!   Welford's running mean and variance (Knuth, *TAOCP* vol. 2, §4.2.2) with the variance's
//!   Hessian, and the periodogram at eight Fourier frequencies (Brockwell and Davis, §10.1) at
//!   lengths on both sides of the lanes/rows switch;
//! - multi-view triangulation residuals (Hartley and Zisserman, §12.4) of one point through
//!   `ADBench`'s `project` helper writing into a buffer: an 8 × 3 Jacobian;
//! - the Black–Scholes call price (Hull, *Options, Futures, and Other Derivatives*, §15.8)
//!   through a normal CDF with hand-written `_grad`, `_jvp` and `_hvp` (*Numerical Recipes*'
//!   `erfcc`): delta, vega, rho, theta, gamma, vanna and volga against their closed forms;
//! - Kepler's equation solved by Newton's method inside the function (Vallado, *Fundamentals of
//!   Astrodynamics and Applications*, Algorithm 2), the position's Jacobian against the
//!   implicit function theorem;
//! - `ADBench`'s Gaussian mixture model objective (`gmm_objective` with `logsumexp`,
//!   `preprocess_qs`, `Qtimesx`, `subtract` and `log_wishart_prior`, `src/cpp/shared/gmm.h`),
//!   helpers writing into buffers as the C++ does: its 20 × 20 Hessian;
//! - the Student-t log-likelihood again, generic over `T: Float` through a generic `gammln`,
//!   in `f64` and `f32`;
//! - a classical Runge–Kutta step arranged as GSL's `rk4` stepper, calling the Brusselator's
//!   buffer-writing right-hand side four times on local buffers: VJP, JVP and second order;
//! - the planar arm again with its rotations through `sin_cos`, a function with two outputs
//!   whose `_vjp`, `_jvp` and `_hvp` are written by hand, called as `let (s, c) = sin_cos(a);`
//!   in every mode, and through `angle.sin_cos()` itself, and Levenberg–Marquardt with the full Hessian of the tip's distance;
//! - adjoint sensitivities of 25 symplectic Euler steps of the three-body problem, the state
//!   updated in place and the right-hand side called into a buffer at each step: gradient and
//!   22 × 22 Hessian of the final separation;
//! - a linearly implicit Euler step for Robertson's problem (Hairer and Wanner, II, §IV.9):
//!   a 3 × 3 Gaussian elimination with partial pivoting inside the function, its Jacobian
//!   conserving mass as the step does;
//! - velocity Verlet (Swope et al., 1982) over a force routine that returns the energy and
//!   writes the forces into a buffer (Allen and Tildesley, §5.1): the routine's VJP against the
//!   chain's Laplacian, the trajectory's gradient and Hessian;
//! - the Hodgkin–Huxley equations (Dayan and Abbott, *Theoretical Neuroscience*, §5.6): the
//!   4 × 5 Jacobian at rest, on the upstroke and in repolarisation;
//! - Misra1a again as a problem struct holding its data (as a Ceres `CostFunction` functor
//!   does), its `&self` cost calling the residual vector with the data fields as slices: full
//!   Newton with `f_hessian` to the certified values.
#![allow(
    // Dimensions and indices as `f64`, as the definitions read them; they are small.
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    // Differentiated loops index their arrays, as the published versions do.
    clippy::needless_range_loop,
    clippy::type_complexity,
    // `if x != 0.0 { .. } else { .. }`, as the published code reads.
    clippy::if_not_else,
    // Authors' names such as McCullagh read as code to the lint.
    clippy::doc_markdown
)]

use autodiff::differentiate;
use autodiff::num_traits::Float;

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::oracles::{EXACT, FD, assert_near, direction, dot, fd_jacobian};

// ---------------------------------------------------------------------------------------------
// 1. Bundle adjustment: ADBench's reprojection error
// ---------------------------------------------------------------------------------------------

/// The squared norm of `x`.
#[differentiate(reverse, forward, hessian)]
fn sqsum(x: &[f64]) -> f64 {
    let mut res = 0.0;
    for i in 0..x.len() {
        res += x[i] * x[i];
    }
    res
}

/// `out = a × b`.
#[differentiate(reverse, forward, hessian)]
fn cross(a: &[f64], b: &[f64], out: &mut [f64]) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

/// Rotates `pt` by the angle-axis vector `rot` (Rodrigues' formula, as in Ceres), writing
/// `rotated_pt`; a zero rotation takes the first-order form.
#[differentiate(reverse, forward, hessian)]
fn rodrigues_rotate_point(rot: &[f64], pt: &[f64], rotated_pt: &mut [f64]) {
    let sqtheta = sqsum(rot);
    if sqtheta != 0.0 {
        let theta = sqtheta.sqrt();
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let theta_inverse = 1.0 / theta;
        let mut w = [0.0; 3];
        for i in 0..3 {
            w[i] = rot[i] * theta_inverse;
        }
        let mut w_cross_pt = [0.0; 3];
        cross(&w, pt, &mut w_cross_pt);
        let tmp = (w[0] * pt[0] + w[1] * pt[1] + w[2] * pt[2]) * (1.0 - costheta);
        for i in 0..3 {
            rotated_pt[i] = pt[i] * costheta + w_cross_pt[i] * sintheta + w[i] * tmp;
        }
    } else {
        let mut rot_cross_pt = [0.0; 3];
        cross(rot, pt, &mut rot_cross_pt);
        for i in 0..3 {
            rotated_pt[i] = pt[i] + rot_cross_pt[i];
        }
    }
}

/// Scales the projected point by `1 + k₁ r² + k₂ r⁴`, in place.
#[differentiate(reverse, forward, hessian)]
fn radial_distort(rad_params: &[f64], proj: &mut [f64]) {
    let rsq = sqsum(proj);
    let l = 1.0 + rad_params[0] * rsq + rad_params[1] * rsq * rsq;
    proj[0] *= l;
    proj[1] *= l;
}

/// Projects `x` through the camera `[r₁ r₂ r₃ C₁ C₂ C₃ f u₀ v₀ k₁ k₂]`.
#[differentiate(reverse, forward, hessian)]
fn project(cam: &[f64], x: &[f64], proj: &mut [f64]) {
    let c = &cam[3..6];
    let mut xo = [0.0; 3];
    xo[0] = x[0] - c[0];
    xo[1] = x[1] - c[1];
    xo[2] = x[2] - c[2];
    let mut xcam = [0.0; 3];
    rodrigues_rotate_point(&cam[0..3], &xo, &mut xcam);
    proj[0] = xcam[0] / xcam[2];
    proj[1] = xcam[1] / xcam[2];
    radial_distort(&cam[9..11], proj);
    proj[0] = proj[0] * cam[6] + cam[7];
    proj[1] = proj[1] * cam[6] + cam[8];
}

/// The weighted reprojection error of one observation. Every slice is active, `feat` too, though
/// `ADBench` differentiates in the camera, the point and the weight alone: with
/// `wrt(cam, x, w)` here, the differentiated callers below fail to compile (a known limitation,
/// README's "Known limitations of calls"): a caller cannot see a callee's `wrt` and calls
/// `compute_reproj_error_vjp` and `_jvp` with an entry and a tangent for every float argument.
/// A caller that leaves some out of its own `wrt` still passes them (see [`reproj_error_wrt`]).
#[differentiate(reverse, forward, hessian)]
fn compute_reproj_error(cam: &[f64], x: &[f64], w: f64, feat: &[f64]) -> [f64; 2] {
    let mut proj = [0.0; 2];
    project(cam, x, &mut proj);
    [w * (proj[0] - feat[0]), w * (proj[1] - feat[1])]
}

/// The same with respect to the camera, the point and the weight only, as `ADBench`'s Jacobian.
#[differentiate(reverse, forward, wrt(cam, x, w))]
fn reproj_error_wrt(cam: &[f64], x: &[f64], w: f64, feat: &[f64]) -> [f64; 2] {
    compute_reproj_error(cam, x, w, feat)
}

const CAM: [f64; 11] = [
    0.12, -0.31, 0.07, 0.4, -0.2, -3.1, 410.0, 320.5, 239.5, -0.08, 0.012,
];
const POINT: [f64; 3] = [0.35, -0.45, 1.9];
const FEAT: [f64; 2] = [352.0, 201.0];

fn reproj_flat(p: &[f64]) -> Vec<f64> {
    compute_reproj_error(&p[..11], &p[11..14], p[14], &p[15..]).to_vec()
}

fn ba_params() -> Vec<f64> {
    let mut p = CAM.to_vec();
    p.extend_from_slice(&POINT);
    p.push(0.8);
    p.extend_from_slice(&FEAT);
    p
}

#[test]
fn bundle_adjustment_reprojection_jacobian() {
    let p = ba_params();
    let want = fd_jacobian(reproj_flat, &p);
    // All four parameters: 2 × 17, the last two columns −w·I.
    let (err, jac) = compute_reproj_error_jacobian(&p[..11], &p[11..14], p[14], &FEAT);
    assert_eq!(err.to_vec(), reproj_flat(&p));
    assert_eq!(jac.len(), 2 * 17);
    for i in 0..2 {
        assert_near("ba jacobian row", &jac[i * 17..(i + 1) * 17], &want[i], FD);
        assert_eq!(jac[i * 17 + 15 + i], -p[14]);
        assert_eq!(jac[i * 17 + 16 - i], 0.0);
    }
    // With respect to the camera, the point and the weight: 2 × 15.
    let (err, jac) = reproj_error_wrt_jacobian(&p[..11], &p[11..14], p[14], &FEAT);
    assert_eq!(err.to_vec(), reproj_flat(&p));
    assert_eq!(jac.len(), 2 * 15);
    for i in 0..2 {
        assert_near(
            "ba wrt jacobian row",
            &jac[i * 15..(i + 1) * 15],
            &want[i][..15],
            FD,
        );
    }
    // `_into` overwrites its buffer.
    let mut buf = vec![7.0; 30];
    let err2 = reproj_error_wrt_jacobian_into(&p[..11], &p[11..14], p[14], &FEAT, &mut buf);
    assert_eq!(err2, err);
    assert_eq!(buf, jac);
    // seedᵀ·J, added into buffers.
    let seed = [0.7, -1.3];
    let (_, d_cam, d_x, d_w) = reproj_error_wrt_vjp(&p[..11], &p[11..14], p[14], &FEAT, seed);
    let mut got = d_cam.clone();
    got.extend_from_slice(&d_x);
    got.push(d_w);
    let want_vjp: Vec<f64> = (0..15)
        .map(|j| seed[0] * want[0][j] + seed[1] * want[1][j])
        .collect();
    assert_near("ba vjp", &got, &want_vjp, FD);
    let mut acc_cam = vec![1.0; 11];
    let mut acc_x = vec![0.0; 3];
    let (_, d_w2) = reproj_error_wrt_vjp_into(
        &p[..11],
        &mut acc_cam,
        &p[11..14],
        &mut acc_x,
        p[14],
        &FEAT,
        seed,
    );
    assert_near("ba vjp_into w", &[d_w2], &[d_w], 1e-14);
    let shifted: Vec<f64> = d_cam.iter().map(|d| d + 1.0).collect();
    assert_near("ba vjp_into cam", &acc_cam, &shifted, 1e-14);
    assert_near("ba vjp_into x", &acc_x, &d_x, 1e-14);
    // J·v along a direction.
    let v = direction(15);
    let (_, t) = reproj_error_wrt_jvp(
        &p[..11],
        &v[..11],
        &p[11..14],
        &v[11..14],
        p[14],
        v[14],
        &FEAT,
    );
    let want_t: Vec<f64> = (0..2).map(|i| dot(&want[i][..15], &v)).collect();
    assert_near("ba jvp", &t, &want_t, FD);
}

#[test]
fn bundle_adjustment_at_zero_rotation() {
    // `sqtheta == 0` takes the first-order branch, whose first derivatives agree with the other's.
    let mut p = ba_params();
    p[0] = 0.0;
    p[1] = 0.0;
    p[2] = 0.0;
    let want = fd_jacobian(reproj_flat, &p);
    let (_, jac) = compute_reproj_error_jacobian(&p[..11], &p[11..14], p[14], &FEAT);
    for i in 0..2 {
        assert_near("ba jacobian at 0", &jac[i * 17..(i + 1) * 17], &want[i], FD);
    }
}

/// `ADBench`'s `computeZachWeightError`.
#[differentiate(reverse, forward, hessian)]
fn compute_zach_weight_error(w: f64) -> f64 {
    1.0 - w * w
}

/// `ADBench`'s `ba_objective`: every observation's reprojection error and weight error, each
/// written into its place in the output buffers; `obs` holds (camera, point) index pairs.
#[differentiate(reverse, forward, wrt(cams, x, w))]
fn ba_objective(
    cams: &[f64],
    x: &[f64],
    w: &[f64],
    obs: &[usize],
    feats: &[f64],
    reproj_err: &mut [f64],
    w_err: &mut [f64],
) {
    let p = w.len();
    for i in 0..p {
        let cam_idx = obs[i * 2];
        let pt_idx = obs[i * 2 + 1];
        let e = compute_reproj_error(
            &cams[cam_idx * 11..(cam_idx + 1) * 11],
            &x[pt_idx * 3..(pt_idx + 1) * 3],
            w[i],
            &feats[i * 2..i * 2 + 2],
        );
        reproj_err[2 * i] = e[0];
        reproj_err[2 * i + 1] = e[1];
    }
    for i in 0..p {
        w_err[i] = compute_zach_weight_error(w[i]);
    }
}

struct BaProblem {
    cams: Vec<f64>,
    x: Vec<f64>,
    w: Vec<f64>,
    obs: Vec<usize>,
    feats: Vec<f64>,
}

fn ba_problem() -> BaProblem {
    let mut cams = CAM.to_vec();
    cams.extend_from_slice(&[
        -0.05, 0.21, -0.11, -0.3, 0.25, -2.8, 380.0, 300.0, 250.0, -0.05, 0.004,
    ]);
    BaProblem {
        cams,
        x: vec![0.35, -0.45, 1.9, -0.6, 0.2, 2.4, 0.1, 0.7, 1.2],
        w: vec![0.8, 1.1, 0.95, 0.7],
        obs: vec![0, 0, 1, 1, 0, 2, 1, 0],
        feats: vec![352.0, 201.0, 240.0, 280.0, 330.0, 330.0, 310.0, 190.0],
    }
}

impl BaProblem {
    fn residuals(&self, cams: &[f64], x: &[f64], w: &[f64]) -> Vec<f64> {
        let mut r = vec![0.0; 2 * w.len()];
        let mut we = vec![0.0; w.len()];
        ba_objective(cams, x, w, &self.obs, &self.feats, &mut r, &mut we);
        r.extend_from_slice(&we);
        r
    }

    fn flat(&self) -> Vec<f64> {
        let mut p = self.cams.clone();
        p.extend_from_slice(&self.x);
        p.extend_from_slice(&self.w);
        p
    }
}

#[test]
fn bundle_adjustment_objective_vjp_and_jvp() {
    let ba = ba_problem();
    let (nc, nx, nw) = (ba.cams.len(), ba.x.len(), ba.w.len());
    let p = ba.flat();
    let f = |q: &[f64]| ba.residuals(&q[..nc], &q[nc..nc + nx], &q[nc + nx..]);
    let want = fd_jacobian(f, &p);
    let m = 3 * nw;
    // seedᵀ·J through the adjoints of both output buffers.
    let seed_r: Vec<f64> = direction(2 * nw);
    let seed_w = [0.3, -0.9, 1.4, 0.6];
    let (mut d_cams, mut d_x, mut d_w) = (vec![0.0; nc], vec![0.0; nx], vec![0.0; nw]);
    let (mut r, mut we) = (vec![0.0; 2 * nw], vec![0.0; nw]);
    let (mut dr, mut dwe) = (seed_r.clone(), seed_w.to_vec());
    ba_objective_vjp_into(
        &ba.cams,
        &mut d_cams,
        &ba.x,
        &mut d_x,
        &ba.w,
        &mut d_w,
        &ba.obs,
        &ba.feats,
        &mut r,
        &mut dr,
        &mut we,
        &mut dwe,
    );
    let mut seed = seed_r.clone();
    seed.extend_from_slice(&seed_w);
    let want_vjp: Vec<f64> = (0..p.len())
        .map(|j| (0..m).map(|i| seed[i] * want[i][j]).sum())
        .collect();
    let mut got = d_cams.clone();
    got.extend_from_slice(&d_x);
    got.extend_from_slice(&d_w);
    assert_near("ba_objective vjp", &got, &want_vjp, FD);
    let mut out = r.clone();
    out.extend_from_slice(&we);
    assert_eq!(out, f(&p));
    // Both outputs are overwritten, so the adjoints of what they held before are zero.
    assert!(dr.iter().chain(&dwe).all(|&d| d == 0.0));
    // J·v.
    let v = direction(p.len());
    let (mut r2, mut dr2, mut we2, mut dwe2) = (
        vec![0.0; 2 * nw],
        vec![0.0; 2 * nw],
        vec![0.0; nw],
        vec![0.0; nw],
    );
    ba_objective_jvp(
        &ba.cams,
        &v[..nc],
        &ba.x,
        &v[nc..nc + nx],
        &ba.w,
        &v[nc + nx..],
        &ba.obs,
        &ba.feats,
        &mut r2,
        &mut dr2,
        &mut we2,
        &mut dwe2,
    );
    dr2.extend_from_slice(&dwe2);
    let want_t: Vec<f64> = (0..m).map(|i| dot(&want[i], &v)).collect();
    assert_near("ba_objective jvp", &dr2, &want_t, FD);
}

/// Half the squared weighted reprojection error of one observation: the Gauss–Newton and the
/// full Newton model of bundle adjustment differ by the residual's second derivatives.
#[differentiate(reverse, hessian, wrt(cam, x, w))]
fn reproj_cost(cam: &[f64], x: &[f64], w: f64, feat: &[f64]) -> f64 {
    let [ex, ey] = compute_reproj_error(cam, x, w, feat);
    0.5 * (ex * ex + ey * ey)
}

#[test]
fn bundle_adjustment_cost_hessian() {
    let p = ba_params()[..15].to_vec();
    let grad = |q: &[f64]| {
        let (_, mut g, gx, gw) = reproj_cost_grad(&q[..11], &q[11..14], q[14], &FEAT);
        g.extend_from_slice(&gx);
        g.push(gw);
        g
    };
    let cost = |q: &[f64]| reproj_cost(&q[..11], &q[11..14], q[14], &FEAT);
    assert_near(
        "ba cost grad",
        &grad(&p),
        &common::oracles::fd_gradient(cost, &p),
        FD,
    );
    let (c, _, _, _, hess) = reproj_cost_hessian(&p[..11], &p[11..14], p[14], &FEAT);
    assert_eq!(c, cost(&p));
    common::oracles::check_hessian("ba cost hessian", &hess, grad, &p);
    // The Gauss–Newton part Jᵀ J is a part of it: H − JᵀJ = Σ eᵢ ∇²eᵢ.
    let v = direction(15);
    let (_, _, _, _, hv_cam, hv_x, hv_w) = reproj_cost_hvp(
        &p[..11],
        &v[..11],
        &p[11..14],
        &v[11..14],
        p[14],
        v[14],
        &FEAT,
    );
    let mut hv = hv_cam.clone();
    hv.extend_from_slice(&hv_x);
    hv.push(hv_w);
    let want: Vec<f64> = (0..15)
        .map(|i| dot(&hess[i * 15..(i + 1) * 15], &v))
        .collect();
    assert_near("ba cost hvp", &hv, &want, 1e-9);
}

// ---------------------------------------------------------------------------------------------
// 2. Stiff and chaotic ODE right-hand sides and their Jacobians
// ---------------------------------------------------------------------------------------------

/// Robertson's chemical kinetics (Hairer and Wanner, *Solving Ordinary Differential Equations
/// II*, §IV.1, (1.3)), the classic stiff test problem.
#[differentiate(reverse, forward, hessian)]
fn robertson(y: [f64; 3]) -> [f64; 3] {
    let [y1, y2, y3] = y;
    [
        -0.04 * y1 + 1.0e4 * y2 * y3,
        0.04 * y1 - 1.0e4 * y2 * y3 - 3.0e7 * y2 * y2,
        3.0e7 * y2 * y2,
    ]
}

/// The same with its rate constants as parameters, in `f32`.
#[differentiate(reverse, forward)]
fn robertson32(y: [f32; 3], k: [f32; 3]) -> [f32; 3] {
    let r1 = k[0] * y[0];
    let r2 = k[1] * y[1] * y[1];
    let r3 = k[2] * y[1] * y[2];
    [-r1 + r3, r1 - r2 - r3, r2]
}

#[test]
fn robertson_jacobian_closed_form() {
    for y in [[1.0, 0.0, 0.0], [0.9, 3.2e-5, 0.1], [0.2, 1.1e-6, 0.8]] {
        let (dy, jac) = robertson_jacobian(y);
        assert_eq!(dy, robertson(y));
        let want = [
            [-0.04, 1.0e4 * y[2], 1.0e4 * y[1]],
            [0.04, -1.0e4 * y[2] - 6.0e7 * y[1], -1.0e4 * y[1]],
            [0.0, 6.0e7 * y[1], 0.0],
        ];
        for i in 0..3 {
            assert_near("robertson jacobian", &jac[i], &want[i], EXACT);
        }
        // Mass is conserved: the columns of J sum to zero, so 1ᵀJ = 0.
        let (_, d_y) = robertson_vjp(y, [1.0, 1.0, 1.0]);
        assert_near("robertson conservation", &d_y, &[0.0; 3], EXACT);
        let v = [0.3, -1.0e-3, 2.0];
        let (_, t) = robertson_jvp(y, v);
        let want_t: Vec<f64> = want.iter().map(|r| dot(r, &v)).collect();
        assert_near("robertson jvp", &t, &want_t, EXACT);
        // Second order: the only curvature is in y₂y₃ and y₂².
        let w = [0.5, -2.0, 1.5];
        let (_, _, _, hv) = robertson_hvp(y, v, w, [0.0; 3]);
        // wᵀ ∇²f · v, row by row of the Hessians of the three components.
        let hyy = [
            w[0] * 0.0 + w[1] * -6.0e7 + w[2] * 6.0e7,
            1.0e4 * (w[0] - w[1]),
        ];
        let want_hv = [0.0, hyy[0] * v[1] + hyy[1] * v[2], hyy[1] * v[1]];
        assert_near("robertson hvp", &hv, &want_hv, EXACT);
    }
}

#[test]
fn robertson_f32_jacobian() {
    let k = [0.04f32, 3.0e7, 1.0e4];
    let y = [0.9f32, 3.2e-5, 0.1];
    let (dy, jac) = robertson32_jacobian(y, k);
    assert_eq!(dy, robertson32(y, k));
    let want: [[f32; 6]; 3] = [
        [-k[0], k[2] * y[2], k[2] * y[1], -y[0], 0.0, y[1] * y[2]],
        [
            k[0],
            -2.0 * k[1] * y[1] - k[2] * y[2],
            -k[2] * y[1],
            y[0],
            -y[1] * y[1],
            -y[1] * y[2],
        ],
        [0.0, 2.0 * k[1] * y[1], 0.0, 0.0, y[1] * y[1], 0.0],
    ];
    for i in 0..3 {
        for j in 0..6 {
            let (g, w) = (jac[i][j], want[i][j]);
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1e-3),
                "[{i}][{j}]: {g} vs {w}"
            );
        }
    }
}

/// Van der Pol's oscillator as a first-order system (Hairer and Wanner, II, §IV.1, (1.5)).
#[differentiate(reverse, forward, hessian)]
fn van_der_pol(mu: f64, y: [f64; 2]) -> [f64; 2] {
    [y[1], mu * (1.0 - y[0] * y[0]) * y[1] - y[0]]
}

/// The same in `f32`.
#[differentiate(reverse, forward)]
fn van_der_pol32(mu: f32, y: [f32; 2]) -> [f32; 2] {
    [y[1], mu * (1.0 - y[0] * y[0]) * y[1] - y[0]]
}

#[test]
fn van_der_pol_jacobian_closed_form() {
    for (mu, y) in [(1.0, [2.0, 0.0]), (1000.0, [-1.5, 0.3]), (0.2, [0.1, -0.7])] {
        let (dy, jac) = van_der_pol_jacobian(mu, y);
        assert_eq!(dy, van_der_pol(mu, y));
        // Columns: μ, y₀, y₁.
        let want = [
            [0.0, 0.0, 1.0],
            [
                (1.0 - y[0] * y[0]) * y[1],
                -2.0 * mu * y[0] * y[1] - 1.0,
                mu * (1.0 - y[0] * y[0]),
            ],
        ];
        for i in 0..2 {
            assert_near("van der pol jacobian", &jac[i], &want[i], EXACT);
        }
        let (_, t) = van_der_pol_jvp(mu, 0.5, y, [1.0, -2.0]);
        let v = [0.5, 1.0, -2.0];
        assert_near(
            "van der pol jvp",
            &t,
            &[dot(&want[0], &v), dot(&want[1], &v)],
            EXACT,
        );
        let (_, d_mu, d_y) = van_der_pol_vjp(mu, y, [0.25, -1.5]);
        let got = [d_mu, d_y[0], d_y[1]];
        let want_vjp: Vec<f64> = (0..3)
            .map(|j| 0.25 * want[0][j] - 1.5 * want[1][j])
            .collect();
        assert_near("van der pol vjp", &got, &want_vjp, EXACT);
        let (mu32, y32) = (mu as f32, [y[0] as f32, y[1] as f32]);
        let (_, jac32) = van_der_pol32_jacobian(mu32, y32);
        for i in 0..2 {
            for j in 0..3 {
                let w = want[i][j] as f32;
                assert!((jac32[i][j] - w).abs() <= 1e-5 * w.abs().max(1.0));
            }
        }
    }
}

/// Lorenz's system, `u` the state and `p = [σ, ρ, β]`, as `DifferentialEquations.jl`'s
/// tutorial writes it.
#[differentiate(reverse, forward, hessian)]
fn lorenz(u: [f64; 3], p: [f64; 3]) -> [f64; 3] {
    let [x, y, z] = u;
    let [sigma, rho, beta] = p;
    [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]
}

#[test]
fn lorenz_jacobian_closed_form() {
    let p = [10.0, 28.0, 8.0 / 3.0];
    let u = [1.2, -0.4, 20.5];
    let (du, jac) = lorenz_jacobian(u, p);
    assert_eq!(du, lorenz(u, p));
    let [x, y, z] = u;
    let want = [
        [-p[0], p[0], 0.0, y - x, 0.0, 0.0],
        [p[1] - z, -1.0, -x, 0.0, x, 0.0],
        [y, x, -p[2], 0.0, 0.0, -z],
    ];
    for i in 0..3 {
        assert_near("lorenz jacobian", &jac[i], &want[i], EXACT);
    }
}

/// One classical Runge–Kutta step of Lorenz's system (Hairer, Nørsett and Wanner, I, §II.1):
/// its Jacobian is the step's sensitivity matrix, through four calls of a function with
/// several outputs.
#[differentiate(reverse, forward, hessian)]
fn lorenz_rk4(u: [f64; 3], p: [f64; 3], h: f64) -> [f64; 3] {
    // The stages' types are written: `let k1 = lorenz(u, p);` read at the loop's `k1[i]` is a
    // compile error that asks for them (the macro cannot see `lorenz`'s output length; README,
    // "Known limitations").
    let k1: [f64; 3] = lorenz(u, p);
    let mut v = [0.0; 3];
    for i in 0..3 {
        v[i] = u[i] + 0.5 * h * k1[i];
    }
    let k2: [f64; 3] = lorenz(v, p);
    for i in 0..3 {
        v[i] = u[i] + 0.5 * h * k2[i];
    }
    let k3: [f64; 3] = lorenz(v, p);
    for i in 0..3 {
        v[i] = u[i] + h * k3[i];
    }
    let k4: [f64; 3] = lorenz(v, p);
    let mut next = [0.0; 3];
    for i in 0..3 {
        next[i] = u[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
    next
}

fn lorenz_rk4_flat(q: &[f64]) -> Vec<f64> {
    lorenz_rk4([q[0], q[1], q[2]], [q[3], q[4], q[5]], q[6]).to_vec()
}

#[test]
fn lorenz_rk4_sensitivities() {
    let q = [1.2, -0.4, 20.5, 10.0, 28.0, 8.0 / 3.0, 0.01];
    let want = fd_jacobian(lorenz_rk4_flat, &q);
    let (u, p, h) = ([q[0], q[1], q[2]], [q[3], q[4], q[5]], q[6]);
    let (next, jac) = lorenz_rk4_jacobian(u, p, h);
    assert_eq!(next.to_vec(), lorenz_rk4_flat(&q));
    for i in 0..3 {
        assert_near("rk4 jacobian", &jac[i], &want[i], FD);
    }
    // Forward and reverse agree with the differences.
    let v = direction(7);
    let (_, t) = lorenz_rk4_jvp(u, [v[0], v[1], v[2]], p, [v[3], v[4], v[5]], h, v[6]);
    let want_t: Vec<f64> = want.iter().map(|r| dot(r, &v)).collect();
    assert_near("rk4 jvp", &t, &want_t, FD);
    let w = [0.4, -1.1, 0.7];
    let (_, d_u, d_p, d_h) = lorenz_rk4_vjp(u, p, h, w);
    let mut got = d_u.to_vec();
    got.extend_from_slice(&d_p);
    got.push(d_h);
    let want_vjp: Vec<f64> = (0..7)
        .map(|j| (0..3).map(|i| w[i] * want[i][j]).sum())
        .collect();
    assert_near("rk4 vjp", &got, &want_vjp, FD);
    // Second order: the tangent of wᵀJ along (v, v_w) against differences of the VJP.
    let vw = [0.2, 0.5, -0.3];
    let (_, _, _, _, tangent, hv_u, hv_p, hv_h) =
        lorenz_rk4_hvp(u, [v[0], v[1], v[2]], p, [v[3], v[4], v[5]], h, v[6], w, vw);
    assert_near("rk4 hvp tangent", &tangent, &t, 1e-12);
    let vjp_flat = |z: &[f64]| {
        let (_, a, b, c) = lorenz_rk4_vjp(
            [z[0], z[1], z[2]],
            [z[3], z[4], z[5]],
            z[6],
            [z[7], z[8], z[9]],
        );
        let mut g = a.to_vec();
        g.extend_from_slice(&b);
        g.push(c);
        g
    };
    let mut z = q.to_vec();
    z.extend_from_slice(&w);
    let mut vz = v.clone();
    vz.extend_from_slice(&vw);
    let want_hv = common::oracles::fd_directional(vjp_flat, &z, &vz);
    let mut got_hv = hv_u.to_vec();
    got_hv.extend_from_slice(&hv_p);
    got_hv.push(hv_h);
    assert_near("rk4 hvp", &got_hv, &want_hv, FD);
}

/// The one-dimensional Brusselator, reaction and diffusion on `n` interior points with
/// Dirichlet boundaries `u = 1`, `v = 3` (Hairer and Wanner, II, §IV.1, (1.6)); `y` holds
/// `u₁ v₁ u₂ v₂ …`, interleaved so the Jacobian is banded.
#[differentiate(reverse, forward, hessian)]
fn brusselator(y: &[f64], alpha: f64, dy: &mut [f64]) {
    let n = y.len() / 2;
    let c = alpha * ((n + 1) * (n + 1)) as f64;
    for i in 0..n {
        let u = y[2 * i];
        let v = y[2 * i + 1];
        let (u_left, v_left) = if i == 0 {
            (1.0, 3.0)
        } else {
            (y[2 * i - 2], y[2 * i - 1])
        };
        let (u_right, v_right) = if i == n - 1 {
            (1.0, 3.0)
        } else {
            (y[2 * i + 2], y[2 * i + 3])
        };
        dy[2 * i] = 1.0 + u * u * v - 4.0 * u + c * (u_left - 2.0 * u + u_right);
        dy[2 * i + 1] = 3.0 * u - u * u * v + c * (v_left - 2.0 * v + v_right);
    }
}

/// The Brusselator's Jacobian, by hand.
fn brusselator_jacobian_by_hand(y: &[f64], alpha: f64) -> Vec<Vec<f64>> {
    let n = y.len() / 2;
    let c = alpha * ((n + 1) * (n + 1)) as f64;
    let mut jac = vec![vec![0.0; 2 * n + 1]; 2 * n];
    for i in 0..n {
        let (u, v) = (y[2 * i], y[2 * i + 1]);
        let (a, b) = (2 * i, 2 * i + 1);
        jac[a][a] = 2.0 * u * v - 4.0 - 2.0 * c;
        jac[a][b] = u * u;
        jac[b][a] = 3.0 - 2.0 * u * v;
        jac[b][b] = -u * u - 2.0 * c;
        if i > 0 {
            jac[a][a - 2] = c;
            jac[b][b - 2] = c;
        }
        if i < n - 1 {
            jac[a][a + 2] = c;
            jac[b][b + 2] = c;
        }
        let lap_u =
            if i == 0 { 1.0 } else { y[a - 2] } - 2.0 * u + if i == n - 1 { 1.0 } else { y[a + 2] };
        let lap_v =
            if i == 0 { 3.0 } else { y[b - 2] } - 2.0 * v + if i == n - 1 { 3.0 } else { y[b + 2] };
        let scale = ((n + 1) * (n + 1)) as f64;
        jac[a][2 * n] = scale * lap_u;
        jac[b][2 * n] = scale * lap_v;
    }
    jac
}

#[test]
fn brusselator_jacobian_by_columns_and_rows() {
    let n = 6;
    let y: Vec<f64> = (0..n)
        .flat_map(|i| {
            let x = (i + 1) as f64 / (n + 1) as f64;
            [1.0 + 0.5 * (std::f64::consts::PI * x).sin(), 3.0 - 0.2 * x]
        })
        .collect();
    let alpha = 1.0 / 50.0;
    let want = brusselator_jacobian_by_hand(&y, alpha);
    let m = 2 * n;
    // Columns by forward mode: J·eⱼ.
    for j in 0..=m {
        let mut d_y = vec![0.0; m];
        let mut d_alpha = 0.0;
        if j < m {
            d_y[j] = 1.0;
        } else {
            d_alpha = 1.0;
        }
        let (mut out, mut d_out) = (vec![0.0; m], vec![0.0; m]);
        brusselator_jvp(&y, &d_y, alpha, d_alpha, &mut out, &mut d_out);
        let col: Vec<f64> = want.iter().map(|r| r[j]).collect();
        assert_near("brusselator column", &d_out, &col, EXACT);
    }
    // Rows by reverse mode: eᵢᵀ·J, the gradient added into a buffer holding 1s.
    for i in 0..m {
        let mut d_y = vec![1.0; m];
        let (mut out, mut d_out) = (vec![0.0; m], vec![0.0; m]);
        d_out[i] = 1.0;
        let (d_alpha,) = brusselator_vjp_into(&y, &mut d_y, alpha, &mut out, &mut d_out);
        let row: Vec<f64> = want[i][..m].iter().map(|v| v + 1.0).collect();
        assert_near("brusselator row", &d_y, &row, EXACT);
        assert_near("brusselator row alpha", &[d_alpha], &[want[i][m]], EXACT);
    }
}

#[test]
fn brusselator_second_order() {
    let n = 4;
    let m = 2 * n;
    let y: Vec<f64> = (0..m).map(|i| 1.0 + 0.3 * (i as f64 * 0.7).sin()).collect();
    let alpha = 0.02;
    let w = direction(m);
    let v = direction(m + 1);
    let v_y = &v[..m];
    let v_alpha = v[m];
    let v_w: Vec<f64> = (0..m).map(|i| 0.1 * i as f64 - 0.2).collect();
    let (mut d_y, mut hv_y) = (vec![0.0; m], vec![0.0; m]);
    let (mut out, mut v_out) = (vec![0.0; m], vec![0.0; m]);
    let (mut d_out, mut hv_out) = (w.clone(), v_w.clone());
    let (d_alpha, hv_alpha) = brusselator_hvp_into(
        &y,
        v_y,
        &mut d_y,
        &mut hv_y,
        alpha,
        v_alpha,
        &mut out,
        &mut v_out,
        &mut d_out,
        &mut hv_out,
    );
    // The VJP against the hand-written Jacobian.
    let jac = brusselator_jacobian_by_hand(&y, alpha);
    let want_vjp: Vec<f64> = (0..=m)
        .map(|j| (0..m).map(|i| w[i] * jac[i][j]).sum())
        .collect();
    let mut got = d_y.clone();
    got.push(d_alpha);
    assert_near("brusselator hvp grad", &got, &want_vjp, EXACT);
    // The output's tangent is J·v.
    let want_t: Vec<f64> = jac.iter().map(|r| dot(r, &v)).collect();
    assert_near("brusselator hvp tangent", &v_out, &want_t, EXACT);
    // The gradient's tangent by differences of the hand-written wᵀJ.
    let vjp = |z: &[f64]| {
        let jac = brusselator_jacobian_by_hand(&z[..m], z[m]);
        (0..=m)
            .map(|j| (0..m).map(|i| z[m + 1 + i] * jac[i][j]).sum())
            .collect::<Vec<f64>>()
    };
    let mut z = y.clone();
    z.push(alpha);
    z.extend_from_slice(&w);
    let mut vz = v.clone();
    vz.extend_from_slice(&v_w);
    let want_hv = common::oracles::fd_directional(vjp, &z, &vz);
    let mut got_hv = hv_y.clone();
    got_hv.push(hv_alpha);
    assert_near("brusselator hvp", &got_hv, &want_hv, FD);
}

// ---------------------------------------------------------------------------------------------
// 3. Gravitational N-body right-hand side into a buffer, and its Hamiltonian
// ---------------------------------------------------------------------------------------------

/// Newton's equations for `n` bodies, `state = [q₁ … qₙ, p₁ … pₙ]` with velocities as momenta
/// per unit mass (Hairer, Lubich and Wanner, *Geometric Numerical Integration*, §I.2.4, the
/// outer solar system): `deriv` receives `[v, a]`, `aᵢ = Σⱼ G mⱼ (qⱼ − qᵢ) / |qⱼ − qᵢ|³`.
#[differentiate(reverse, forward, hessian)]
fn gravity(state: &[f64], masses: &[f64], g: f64, deriv: &mut [f64]) {
    let n = masses.len();
    for i in 0..n {
        for k in 0..3 {
            deriv[3 * i + k] = state[3 * n + 3 * i + k];
            deriv[3 * n + 3 * i + k] = 0.0;
        }
    }
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            let dx = state[3 * j] - state[3 * i];
            let dy = state[3 * j + 1] - state[3 * i + 1];
            let dz = state[3 * j + 2] - state[3 * i + 2];
            let r2 = dx * dx + dy * dy + dz * dz;
            let r3 = r2 * r2.sqrt();
            let s = g * masses[j] / r3;
            deriv[3 * n + 3 * i] += s * dx;
            deriv[3 * n + 3 * i + 1] += s * dy;
            deriv[3 * n + 3 * i + 2] += s * dz;
        }
    }
}

/// The Hamiltonian of the same system: kinetic minus potential energy, summed over pairs.
#[differentiate(reverse, forward, hessian)]
fn hamiltonian(state: &[f64], masses: &[f64], g: f64) -> f64 {
    let n = masses.len();
    let mut kinetic = 0.0;
    for i in 0..n {
        let v = &state[3 * n + 3 * i..3 * n + 3 * i + 3];
        kinetic += 0.5 * masses[i] * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    }
    let mut potential = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            let dx = state[3 * j] - state[3 * i];
            let dy = state[3 * j + 1] - state[3 * i + 1];
            let dz = state[3 * j + 2] - state[3 * i + 2];
            potential -= g * masses[i] * masses[j] / (dx * dx + dy * dy + dz * dz).sqrt();
        }
    }
    kinetic + potential
}

fn three_bodies() -> (Vec<f64>, Vec<f64>, f64) {
    // The Pythagorean three-body problem's masses, at a point of its orbit, moving.
    let state = vec![
        1.0, 3.0, 0.1, -2.0, -1.0, -0.2, 1.0, -1.0, 0.05, // positions
        0.1, -0.2, 0.01, 0.3, 0.05, -0.02, -0.25, 0.1, 0.03, // velocities
    ];
    (state, vec![3.0, 4.0, 5.0], 1.0)
}

fn gravity_flat(z: &[f64]) -> Vec<f64> {
    // state (18), masses (3), g
    let mut out = vec![0.0; 18];
    gravity(&z[..18], &z[18..21], z[21], &mut out);
    out
}

#[test]
fn gravity_jacobian_products() {
    let (state, masses, g) = three_bodies();
    let mut z = state.clone();
    z.extend_from_slice(&masses);
    z.push(g);
    let jac = fd_jacobian(gravity_flat, &z);
    // J·v.
    let v = direction(22);
    let (mut out, mut d_out) = (vec![0.0; 18], vec![0.0; 18]);
    gravity_jvp(
        &state,
        &v[..18],
        &masses,
        &v[18..21],
        g,
        v[21],
        &mut out,
        &mut d_out,
    );
    assert_eq!(out, gravity_flat(&z));
    let want_t: Vec<f64> = jac.iter().map(|r| dot(r, &v)).collect();
    assert_near("gravity jvp", &d_out, &want_t, FD);
    // wᵀ·J.
    let w = direction(18);
    let (mut d_state, mut d_masses) = (vec![0.0; 18], vec![0.0; 3]);
    let mut seed = w.clone();
    let (d_g,) = gravity_vjp_into(
        &state,
        &mut d_state,
        &masses,
        &mut d_masses,
        g,
        &mut out,
        &mut seed,
    );
    let mut got = d_state.clone();
    got.extend_from_slice(&d_masses);
    got.push(d_g);
    let want: Vec<f64> = (0..22)
        .map(|j| (0..18).map(|i| w[i] * jac[i][j]).sum())
        .collect();
    assert_near("gravity vjp", &got, &want, FD);
    // The velocity block of J is the identity.
    for i in 0..9 {
        for j in 0..22 {
            let e = if j == 9 + i { 1.0 } else { 0.0 };
            assert!((jac[i][j] - e).abs() < 1e-9);
        }
    }
}

#[test]
fn gravity_forces_are_the_hamiltonian_gradient() {
    let (state, masses, g) = three_bodies();
    let (h, d_state, _, _) = hamiltonian_grad(&state, &masses, g);
    assert_eq!(h, hamiltonian(&state, &masses, g));
    // ∂H/∂qᵢ = −mᵢ aᵢ and ∂H/∂vᵢ = mᵢ vᵢ, with aᵢ from the right-hand side as written.
    let mut deriv = vec![0.0; 18];
    gravity(&state, &masses, g, &mut deriv);
    let want: Vec<f64> = (0..18)
        .map(|k| {
            let i = (k % 9) / 3;
            if k < 9 {
                -masses[i] * deriv[9 + k]
            } else {
                masses[i] * state[k]
            }
        })
        .collect();
    assert_near("hamiltonian grad", &d_state, &want, 1e-12);
    // The Hessian in the state (18 × 18) against differences of the gradient.
    let (_, _, _, _, hess) = hamiltonian_hessian(&state, &masses, g);
    let n = 22;
    assert_eq!(hess.len(), n * n);
    let grad = |z: &[f64]| {
        let (_, mut a, b, c) = hamiltonian_grad(&z[..18], &z[18..21], z[21]);
        a.extend_from_slice(&b);
        a.push(c);
        a
    };
    let mut z = state.clone();
    z.extend_from_slice(&masses);
    z.push(g);
    common::oracles::check_hessian("hamiltonian hessian", &hess, grad, &z);
}

// ---------------------------------------------------------------------------------------------
// 4. Newton's method on regression log-likelihoods
// ---------------------------------------------------------------------------------------------

/// Solves `a · x = b` for a small dense row-major `a` by Gaussian elimination with partial
/// pivoting.
fn solve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let n = b.len();
    let mut m: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut row = a[i * n..(i + 1) * n].to_vec();
            row.push(b[i]);
            row
        })
        .collect();
    for k in 0..n {
        let p = (k..n)
            .max_by(|&i, &j| m[i][k].abs().total_cmp(&m[j][k].abs()))
            .unwrap();
        m.swap(k, p);
        for i in k + 1..n {
            let f = m[i][k] / m[k][k];
            for j in k..=n {
                m[i][j] -= f * m[k][j];
            }
        }
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|j| m[i][j] * x[j]).sum();
        x[i] = (m[i][n] - s) / m[i][i];
    }
    x
}

/// A design matrix of `n` rows `[1, t, t²/2]` and 0/1 or count responses, deterministic.
fn design(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::new();
    let mut t_all = Vec::new();
    for i in 0..n {
        let t = -1.5 + 3.0 * i as f64 / (n - 1) as f64;
        x.extend_from_slice(&[1.0, t, 0.5 * t * t]);
        t_all.push(t);
    }
    (x, t_all)
}

/// The log-likelihood of logistic regression, `ℓ(β) = Σᵢ yᵢ xᵢᵀβ − log(1 + exp(xᵢᵀβ))`
/// (Hastie, Tibshirani and Friedman, *The Elements of Statistical Learning*, §4.4.1, (4.20)),
/// `x` row-major with one row per observation.
#[differentiate(reverse, forward, hessian, wrt(beta))]
fn logistic_log_likelihood(beta: &[f64], x: &[f64], y: &[f64]) -> f64 {
    let p = beta.len();
    let mut ll = 0.0;
    for i in 0..y.len() {
        let row = &x[i * p..(i + 1) * p];
        let mut eta = 0.0;
        for j in 0..p {
            eta += row[j] * beta[j];
        }
        ll += y[i] * eta - eta.exp().ln_1p();
    }
    ll
}

#[test]
fn logistic_regression_newton_raphson() {
    let n = 24;
    let (x, t) = design(n);
    // Labels from a noisy threshold, so that the maximum exists (the classes overlap).
    let y: Vec<f64> = t
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let noisy = t + 0.9 * ((i * 7 % 5) as f64 - 2.0) / 2.0;
            if noisy > 0.2 { 1.0 } else { 0.0 }
        })
        .collect();
    let mut beta = vec![0.0; 3];
    for iteration in 0..25 {
        let (ll, grad, hess) = logistic_log_likelihood_hessian(&beta, &x, &y);
        assert_eq!(ll, logistic_log_likelihood(&beta, &x, &y));
        // The closed forms: ∇ℓ = Xᵀ(y − p), ∇²ℓ = −Xᵀ W X with W = diag(p(1 − p)).
        let mut want_g = [0.0; 3];
        let mut want_h = [0.0; 9];
        for i in 0..n {
            let row = &x[i * 3..(i + 1) * 3];
            let pi = 1.0 / (1.0 + (-dot(row, &beta)).exp());
            for a in 0..3 {
                want_g[a] += (y[i] - pi) * row[a];
                for b in 0..3 {
                    want_h[a * 3 + b] -= pi * (1.0 - pi) * row[a] * row[b];
                }
            }
        }
        assert_near("logistic grad", &grad, &want_g, 1e-12);
        assert_near("logistic hessian", &hess, &want_h, 1e-12);
        // H·v by f_hvp agrees with the Hessian.
        let v = [0.3, -0.2, 0.9];
        let (_, _, hv) = logistic_log_likelihood_hvp(&beta, &v, &x, &y);
        let want_hv: Vec<f64> = (0..3).map(|a| dot(&want_h[a * 3..a * 3 + 3], &v)).collect();
        assert_near("logistic hvp", &hv, &want_hv, 1e-12);
        // β ← β − H⁻¹ ∇ℓ.
        let step = solve(&hess, &grad);
        for a in 0..3 {
            beta[a] -= step[a];
        }
        if grad.iter().map(|g| g.abs()).fold(0.0, f64::max) < 1e-11 {
            assert!(iteration > 2, "converged suspiciously fast");
            break;
        }
    }
    let (_, grad) = logistic_log_likelihood_grad(&beta, &x, &y);
    assert!(
        grad.iter().all(|g| g.abs() < 1e-10),
        "not converged: {grad:?}"
    );
}

/// The Poisson regression log-likelihood with the log link, leaving out `Σ log yᵢ!`
/// (McCullagh and Nelder, *Generalized Linear Models*, §6.2), generic over the float type.
#[differentiate(reverse, forward, hessian, wrt(beta))]
fn poisson_log_likelihood<T: Float>(beta: &[T], x: &[T], y: &[T]) -> T {
    let p = beta.len();
    let mut ll = T::zero();
    for (i, &yi) in y.iter().enumerate() {
        let eta = x[i * p..(i + 1) * p]
            .iter()
            .zip(beta)
            .fold(T::zero(), |acc, (&a, &b)| acc + a * b);
        ll = ll + yi * eta - eta.exp();
    }
    ll
}

#[test]
fn poisson_regression_newton_in_f64_and_f32() {
    let n = 20;
    let (x, t) = design(n);
    let y: Vec<f64> = t
        .iter()
        .enumerate()
        .map(|(i, &t)| ((1.0 + 0.8 * t).exp() + (i % 3) as f64).floor())
        .collect();
    let mut beta = vec![0.5, 0.0, 0.0];
    for _ in 0..30 {
        let (_, grad, hess) = poisson_log_likelihood_hessian(&beta, &x, &y);
        let mut want_h = [0.0; 9];
        let mut want_g = [0.0; 3];
        for i in 0..n {
            let row = &x[i * 3..(i + 1) * 3];
            let mu = dot(row, &beta).exp();
            for a in 0..3 {
                want_g[a] += (y[i] - mu) * row[a];
                for b in 0..3 {
                    want_h[a * 3 + b] -= mu * row[a] * row[b];
                }
            }
        }
        assert_near("poisson grad", &grad, &want_g, 1e-12);
        assert_near("poisson hessian", &hess, &want_h, 1e-12);
        let step = solve(&hess, &grad);
        for a in 0..3 {
            beta[a] -= step[a];
        }
    }
    let (_, grad) = poisson_log_likelihood_grad(&beta, &x, &y);
    assert!(
        grad.iter().all(|g| g.abs() < 1e-9),
        "not converged: {grad:?}"
    );
    // In f32 at the optimum: the Hessian matches the f64 one to single precision.
    let b32: Vec<f32> = beta.iter().map(|&b| b as f32).collect();
    let x32: Vec<f32> = x.iter().map(|&b| b as f32).collect();
    let y32: Vec<f32> = y.iter().map(|&b| b as f32).collect();
    let (_, _, h32) = poisson_log_likelihood_hessian(&b32, &x32, &y32);
    let (_, _, h64) = poisson_log_likelihood_hessian(&beta, &x, &y);
    for (a, b) in h32.iter().zip(&h64) {
        assert!(
            (f64::from(*a) - b).abs() <= 1e-4 * b.abs().max(1.0),
            "{a} vs {b}"
        );
    }
    let (_, t32) = poisson_log_likelihood_jvp(&b32, &[1.0, 0.0, 0.0], &x32, &y32);
    assert!(
        t32.abs() < 1e-2,
        "the f32 gradient at the f64 optimum: {t32}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Gamma and Student-t log-likelihoods through a Lanczos log-gamma
// ---------------------------------------------------------------------------------------------

/// The coefficients of `gammln`, its `static` table.
const COF: [f64; 6] = [
    76.180_091_729_471_46,
    -86.505_320_329_416_77,
    24.014_098_240_830_91,
    -1.231_739_572_450_155,
    0.120_865_097_386_617_9e-2,
    -0.539_523_938_495_3e-5,
];

/// `ln Γ(xx)` for `xx > 0` by Lanczos' approximation, as *Numerical Recipes in C* (2nd ed.,
/// §6.1) writes `gammln`, its table a `const` indexed in the loop.
#[differentiate(reverse, forward, hessian)]
fn gammln(xx: f64) -> f64 {
    let x = xx;
    let mut y = xx;
    let mut tmp = x + 5.5;
    tmp -= (x + 0.5) * tmp.ln();
    let mut ser = 1.000_000_000_190_015;
    for j in 0..6 {
        y += 1.0;
        ser += COF[j] / y;
    }
    -tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

/// The trigamma function `ψ'(x) = Σₖ 1/(x + k)²`, summed to `x + k ≥ 20` and finished by its
/// asymptotic series: an oracle independent of `gammln`.
fn trigamma(mut x: f64) -> f64 {
    let mut s = 0.0;
    while x < 20.0 {
        s += 1.0 / (x * x);
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    s + 1.0 / x + x2 / 2.0 + x2 / x * (1.0 / 6.0 - x2 * (1.0 / 30.0 - x2 / 42.0))
}

/// The Gamma log-likelihood in its shape `α` and rate `β`:
/// `n (α ln β − ln Γ(α)) + (α − 1) Σ ln xᵢ − β Σ xᵢ`.
#[differentiate(reverse, forward, hessian, wrt(alpha, beta))]
fn gamma_log_likelihood(alpha: f64, beta: f64, x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mut sum_ln = 0.0;
    let mut sum = 0.0;
    for &xi in x {
        sum_ln += xi.ln();
        sum += xi;
    }
    n * (alpha * beta.ln() - gammln(alpha)) + (alpha - 1.0) * sum_ln - beta * sum
}

fn gamma_sample() -> Vec<f64> {
    vec![
        0.82, 1.94, 2.51, 0.47, 3.36, 1.21, 2.05, 0.96, 1.58, 4.12, 1.33, 2.74,
    ]
}

#[test]
fn gamma_maximum_likelihood_by_newton() {
    let x = gamma_sample();
    let n = x.len() as f64;
    // Moment estimates to start.
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let (mut alpha, mut beta) = (mean * mean / var, mean / var);
    for _ in 0..20 {
        let (_, ga, gb, h) = gamma_log_likelihood_hessian(alpha, beta, &x);
        // ∂²ℓ/∂α² = −n ψ'(α), ∂²ℓ/∂α∂β = n/β, ∂²ℓ/∂β² = −nα/β².
        let want = [
            [-n * trigamma(alpha), n / beta],
            [n / beta, -n * alpha / (beta * beta)],
        ];
        for i in 0..2 {
            assert_near("gamma hessian", &h[i], &want[i], 1e-7);
        }
        let g = |p: &[f64]| {
            let (_, a, b) = gamma_log_likelihood_grad(p[0], p[1], &x);
            vec![a, b]
        };
        let f = |p: &[f64]| gamma_log_likelihood(p[0], p[1], &x);
        if ga.abs().max(gb.abs()) > 1e-4 {
            // Away from the optimum, where differences are meaningful.
            assert_near(
                "gamma grad",
                &[ga, gb],
                &common::oracles::fd_gradient(f, &[alpha, beta]),
                FD,
            );
        }
        let hf: Vec<f64> = h.iter().flatten().copied().collect();
        common::oracles::check_hessian("gamma hessian fd", &hf, g, &[alpha, beta]);
        let step = solve(&hf, &[ga, gb]);
        alpha -= step[0];
        beta -= step[1];
    }
    let (_, ga, gb) = gamma_log_likelihood_grad(alpha, beta, &x);
    assert!(ga.abs() < 1e-10 && gb.abs() < 1e-10, "{ga} {gb}");
    // At the optimum β = α / x̄.
    assert!((beta - alpha / mean).abs() < 1e-10 * beta);
}

/// The Student-t log-likelihood in its location `μ`, scale `σ` and degrees of freedom `ν`
/// (Lange, Little and Taylor, "Robust statistical modeling using the t distribution", JASA
/// 1989, (1)).
#[differentiate(reverse, forward, hessian, wrt(mu, sigma, nu))]
fn student_t_log_likelihood(mu: f64, sigma: f64, nu: f64, x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mut s = 0.0;
    for &xi in x {
        let z = (xi - mu) / sigma;
        s += (1.0 + z * z / nu).ln();
    }
    n * (gammln(0.5 * (nu + 1.0))
        - gammln(0.5 * nu)
        - 0.5 * (nu * std::f64::consts::PI).ln()
        - sigma.ln())
        - 0.5 * (nu + 1.0) * s
}

#[test]
fn student_t_hessian() {
    let x = [
        0.3, -1.2, 2.8, 0.1, -0.4, 5.9, 0.7, -2.2, 0.05, 1.1, -0.8, 0.6,
    ];
    for p in [[0.2, 1.1, 3.5], [-0.1, 0.7, 1.3], [0.5, 2.0, 12.0]] {
        let f = |q: &[f64]| student_t_log_likelihood(q[0], q[1], q[2], &x);
        let g = |q: &[f64]| {
            let (_, a, b, c) = student_t_log_likelihood_grad(q[0], q[1], q[2], &x);
            vec![a, b, c]
        };
        assert_near("t grad", &g(&p), &common::oracles::fd_gradient(f, &p), FD);
        let (val, ga, gb, gc, h) = student_t_log_likelihood_hessian(p[0], p[1], p[2], &x);
        assert_eq!(val, f(&p));
        assert_eq!(vec![ga, gb, gc], g(&p));
        let hf: Vec<f64> = h.iter().flatten().copied().collect();
        common::oracles::check_hessian("t hessian", &hf, g, &p);
        // ∂²ℓ/∂ν² involves ψ' at (ν + 1)/2 and ν/2 plus the data term.
        let nu = p[2];
        let n = x.len() as f64;
        let mut data = 0.0;
        for &xi in &x {
            let z2 = ((xi - p[0]) / p[1]).powi(2);
            let a = z2 / (nu * nu + nu * z2);
            // d/dν of −½(ν + 1) ln(1 + z²/ν) twice.
            data += a - 0.5 * (nu + 1.0) * z2 * (2.0 * nu + z2) / (nu * nu * (nu + z2) * (nu + z2));
        }
        let want = n
            * (0.25 * trigamma(0.5 * (nu + 1.0)) - 0.25 * trigamma(0.5 * nu) + 0.5 / (nu * nu))
            + data;
        assert_near("t d2/dnu2", &[h[2][2]], &[want], 1e-7);
        let v = [0.4, -0.3, 0.8];
        let (_, _, _, _, hm, hs, hn) =
            student_t_log_likelihood_hvp(p[0], v[0], p[1], v[1], p[2], v[2], &x);
        let want_hv: Vec<f64> = (0..3).map(|i| dot(&h[i], &v)).collect();
        assert_near("t hvp", &[hm, hs, hn], &want_hv, 1e-12);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Inverse kinematics of a planar arm by damped least squares
// ---------------------------------------------------------------------------------------------

/// The end effector of a planar three-link arm minus its target: joint angles accumulate along
/// the chain (Buss, "Introduction to inverse kinematics with Jacobian transpose, pseudoinverse
/// and damped least squares methods", 2004, §2).
#[differentiate(reverse, forward, hessian, wrt(theta))]
fn ik_residual(theta: [f64; 3], lengths: [f64; 3], target: [f64; 2]) -> [f64; 2] {
    let mut angle = 0.0;
    let mut x = 0.0;
    let mut y = 0.0;
    for i in 0..3 {
        angle += theta[i];
        x += lengths[i] * angle.cos();
        y += lengths[i] * angle.sin();
    }
    [x - target[0], y - target[1]]
}

/// The same in `f32`.
#[differentiate(reverse, forward, wrt(theta))]
fn ik_residual32(theta: [f32; 3], lengths: [f32; 3], target: [f32; 2]) -> [f32; 2] {
    let mut angle = 0.0;
    let mut x = 0.0;
    let mut y = 0.0;
    for i in 0..3 {
        angle += theta[i];
        x += lengths[i] * angle.cos();
        y += lengths[i] * angle.sin();
    }
    [x - target[0], y - target[1]]
}

/// The arm's Jacobian by hand: joint `j` moves every link after it.
fn ik_jacobian_by_hand(theta: [f64; 3], lengths: [f64; 3]) -> [[f64; 3]; 2] {
    let mut phi = [0.0; 3];
    let mut a = 0.0;
    for i in 0..3 {
        a += theta[i];
        phi[i] = a;
    }
    let mut jac = [[0.0; 3]; 2];
    for j in 0..3 {
        for i in j..3 {
            jac[0][j] -= lengths[i] * phi[i].sin();
            jac[1][j] += lengths[i] * phi[i].cos();
        }
    }
    jac
}

#[test]
fn inverse_kinematics_by_damped_least_squares() {
    let lengths = [1.0, 0.8, 0.5];
    let target = [1.2, 1.1];
    let mut theta = [0.3, 0.4, -0.2];
    let lambda = 0.1;
    for _ in 0..200 {
        let (e, jac) = ik_residual_jacobian(theta, lengths, target);
        let want = ik_jacobian_by_hand(theta, lengths);
        for i in 0..2 {
            assert_near("ik jacobian", &jac[i], &want[i], EXACT);
        }
        // Δθ = −Jᵀ (J Jᵀ + λ² I)⁻¹ e.
        let mut a = [0.0; 4];
        for i in 0..2 {
            for k in 0..2 {
                a[i * 2 + k] = dot(&jac[i], &jac[k]) + if i == k { lambda * lambda } else { 0.0 };
            }
        }
        let f = solve(&a, &e);
        for j in 0..3 {
            theta[j] -= jac[0][j] * f[0] + jac[1][j] * f[1];
        }
    }
    let e = ik_residual(theta, lengths, target);
    assert!(e[0].abs() < 1e-10 && e[1].abs() < 1e-10, "{e:?}");
    // Second order: the tangent of eᵀJ (the gradient of ½|e|²) along v, against differences.
    let v = [0.5, -0.25, 1.0];
    let w = [0.3, -0.7];
    let (_, _, tangent, hv) = ik_residual_hvp(theta, v, lengths, target, w, [0.0; 2]);
    let want = ik_jacobian_by_hand(theta, lengths);
    assert_near(
        "ik tangent",
        &tangent,
        &[dot(&want[0], &v), dot(&want[1], &v)],
        EXACT,
    );
    let vjp = |q: &[f64]| {
        let jac = ik_jacobian_by_hand([q[0], q[1], q[2]], lengths);
        (0..3)
            .map(|j| w[0] * jac[0][j] + w[1] * jac[1][j])
            .collect::<Vec<f64>>()
    };
    let want_hv = common::oracles::fd_directional(vjp, &theta, &v);
    assert_near("ik hvp", &hv, &want_hv, FD);
    // f32: the same Jacobian to single precision.
    let t32 = [theta[0] as f32, theta[1] as f32, theta[2] as f32];
    let (_, j32) = ik_residual32_jacobian(t32, [1.0, 0.8, 0.5], [1.2, 1.1]);
    for i in 0..2 {
        for j in 0..3 {
            assert!((f64::from(j32[i][j]) - want[i][j]).abs() < 1e-5);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Gauss–Newton on a NIST nonlinear regression problem
// ---------------------------------------------------------------------------------------------

/// NIST StRD Misra1a (`https://www.itl.nist.gov/div898/strd/nls/data/misra1a.shtml`), the
/// regressor and the response.
const MISRA1A_X: [f64; 14] = [
    77.6, 114.9, 141.1, 190.8, 239.9, 289.0, 332.8, 378.4, 434.8, 477.3, 536.8, 593.1, 689.1, 760.0,
];
const MISRA1A_Y: [f64; 14] = [
    10.07, 14.73, 17.94, 23.93, 29.61, 35.18, 40.02, 44.82, 50.76, 55.05, 61.01, 66.40, 75.47,
    81.78,
];

/// The residuals `yᵢ − b₁ (1 − exp(−b₂ xᵢ))`, one array element per observation, as a
/// Gauss–Newton solver (Ceres' `CostFunction`, MINPACK's `fcn`) wants them.
#[differentiate(reverse, forward, wrt(b))]
fn misra1a_residuals(b: [f64; 2], x: &[f64; 14], y: &[f64; 14]) -> [f64; 14] {
    let mut r = [0.0; 14];
    for i in 0..14 {
        r[i] = y[i] - b[0] * (1.0 - (-b[1] * x[i]).exp());
    }
    r
}

#[test]
fn misra1a_gauss_newton_reaches_the_certified_values() {
    // NIST's second starting point.
    let mut b = [250.0, 5.0e-4];
    for _ in 0..50 {
        let (r, jac) = misra1a_residuals_jacobian(b, &MISRA1A_X, &MISRA1A_Y);
        for i in 0..14 {
            let e = (-b[1] * MISRA1A_X[i]).exp();
            let want = [-(1.0 - e), -b[0] * MISRA1A_X[i] * e];
            assert_near("misra1a jacobian", &jac[i], &want, EXACT);
        }
        // (JᵀJ) Δ = −Jᵀ r.
        let mut jtj = [0.0; 4];
        let mut jtr = [0.0; 2];
        for i in 0..14 {
            for a in 0..2 {
                jtr[a] -= jac[i][a] * r[i];
                for c in 0..2 {
                    jtj[a * 2 + c] += jac[i][a] * jac[i][c];
                }
            }
        }
        let step = solve(&jtj, &jtr);
        b[0] += step[0];
        b[1] += step[1];
        // The VJP with the residuals as seed is Jᵀr, the gradient of ½|r|².
        let (_, g) = misra1a_residuals_vjp(b, &MISRA1A_X, &MISRA1A_Y, r);
        assert!(g.iter().all(|v| v.is_finite()));
    }
    // Certified: b₁ = 2.3894212918E+02, b₂ = 5.5015643181E-04, RSS = 1.2455138894E-01.
    assert!((b[0] / 2.389_421_291_8e2 - 1.0).abs() < 1e-9, "{b:?}");
    assert!((b[1] / 5.501_564_318_1e-4 - 1.0).abs() < 1e-9, "{b:?}");
    let r = misra1a_residuals(b, &MISRA1A_X, &MISRA1A_Y);
    let rss: f64 = r.iter().map(|v| v * v).sum();
    assert!((rss / 1.245_513_889_4e-1 - 1.0).abs() < 1e-9, "{rss}");
    // J·v at the solution.
    let (_, t) = misra1a_residuals_jvp(b, [1.0, -1.0e-6], &MISRA1A_X, &MISRA1A_Y);
    for i in 0..14 {
        let e = (-b[1] * MISRA1A_X[i]).exp();
        let want = -(1.0 - e) + 1.0e-6 * b[0] * MISRA1A_X[i] * e;
        assert_near("misra1a jvp", &[t[i]], &[want], EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Tuple outputs: a Lennard-Jones pair's energy and force, and callers of it
// ---------------------------------------------------------------------------------------------

/// The Lennard-Jones pair potential and the force it exerts at separation `d`, returned together
/// as molecular-dynamics codes compute them (Allen and Tildesley, *Computer Simulation of
/// Liquids*, §1.4.3 and §5.2): `u = 4ε((σ/r)¹² − (σ/r)⁶)`, `f = 24ε(2(σ/r)¹² − (σ/r)⁶) d / r²`.
#[differentiate(reverse, forward, hessian)]
fn lennard_jones(d: [f64; 2], epsilon: f64, sigma: f64) -> (f64, [f64; 2]) {
    let r2 = d[0] * d[0] + d[1] * d[1];
    let sr2 = sigma * sigma / r2;
    let sr6 = sr2 * sr2 * sr2;
    let sr12 = sr6 * sr6;
    let u = 4.0 * epsilon * (sr12 - sr6);
    let f = 24.0 * epsilon * (2.0 * sr12 - sr6) / r2;
    (u, [f * d[0], f * d[1]])
}

fn lennard_jones_flat(q: &[f64]) -> Vec<f64> {
    let (u, f) = lennard_jones([q[0], q[1]], q[2], q[3]);
    vec![u, f[0], f[1]]
}

#[test]
fn lennard_jones_jacobian_of_a_tuple_output() {
    for q in [
        [1.1, 0.3, 1.0, 1.0],
        [0.9, -0.8, 0.7, 1.2],
        [2.0, 1.5, 1.3, 0.9],
    ] {
        let (d, eps, sig) = ([q[0], q[1]], q[2], q[3]);
        let ((u, f), jac) = lennard_jones_jacobian(d, eps, sig);
        assert_eq!(vec![u, f[0], f[1]], lennard_jones_flat(&q));
        // Rows u, f₀, f₁; columns d₀, d₁, ε, σ.
        let want = fd_jacobian(lennard_jones_flat, &q);
        for i in 0..3 {
            assert_near("lj jacobian", &jac[i], &want[i], FD);
        }
        // The force is minus the energy's gradient: the program's own force, not the macro's.
        assert_near("lj force", &[-jac[0][0], -jac[0][1]], &f, 1e-12);
        // And ∂u/∂ε = u/ε.
        assert_near("lj d/deps", &[jac[0][2]], &[u / eps], 1e-12);
        // The force's Jacobian in d is minus the energy's Hessian, so symmetric.
        assert!((jac[1][1] - jac[2][0]).abs() < 1e-10 * jac[1][1].abs().max(1.0));
        // seedᵀ·J with a tuple seed.
        let seed = (0.5, [-1.0, 2.0]);
        let (_, d_d, d_eps, d_sig) = lennard_jones_vjp(d, eps, sig, seed);
        let s = [seed.0, seed.1[0], seed.1[1]];
        let want_vjp: Vec<f64> = (0..4)
            .map(|j| (0..3).map(|i| s[i] * want[i][j]).sum())
            .collect();
        assert_near("lj vjp", &[d_d[0], d_d[1], d_eps, d_sig], &want_vjp, FD);
        // J·v, a tuple tangent.
        let v = [0.3, -0.6, 0.1, 0.05];
        let (_, (tu, tf)) = lennard_jones_jvp(d, [v[0], v[1]], eps, v[2], sig, v[3]);
        let want_t: Vec<f64> = want.iter().map(|r| dot(r, &v)).collect();
        assert_near("lj jvp", &[tu, tf[0], tf[1]], &want_t, FD);
    }
}

/// The potential energy and the virial `W = Σ r_ij · f_ij` of a cluster of three atoms in the
/// plane, from the pair routine (Allen and Tildesley, §2.4): two outputs from a loop over pairs
/// that destructures the pair's tuple.
#[differentiate(reverse, forward, hessian)]
fn cluster_energy_virial(pos: [f64; 6]) -> [f64; 2] {
    let mut energy = 0.0;
    let mut virial = 0.0;
    for i in 0..3 {
        for j in i + 1..3 {
            let d = [pos[2 * i] - pos[2 * j], pos[2 * i + 1] - pos[2 * j + 1]];
            let (u, f): (f64, [f64; 2]) = lennard_jones(d, 1.0, 1.0);
            energy += u;
            virial += d[0] * f[0] + d[1] * f[1];
        }
    }
    [energy, virial]
}

/// The potential energy alone, for Newton's method on the cluster's geometry.
#[differentiate(reverse, forward, hessian)]
fn cluster_energy(pos: [f64; 6]) -> f64 {
    let mut energy = 0.0;
    for i in 0..3 {
        for j in i + 1..3 {
            let (u, _f): (f64, [f64; 2]) = lennard_jones(
                [pos[2 * i] - pos[2 * j], pos[2 * i + 1] - pos[2 * j + 1]],
                1.0,
                1.0,
            );
            energy += u;
        }
    }
    energy
}

fn cluster_flat(q: &[f64]) -> Vec<f64> {
    cluster_energy_virial([q[0], q[1], q[2], q[3], q[4], q[5]]).to_vec()
}

#[test]
fn lennard_jones_cluster_in_every_mode() {
    let pos = [0.0, 0.0, 1.15, 0.05, 0.5, 0.95];
    let want = fd_jacobian(cluster_flat, &pos);
    let (ev, jac) = cluster_energy_virial_jacobian(pos);
    assert_eq!(ev.to_vec(), cluster_flat(&pos));
    for i in 0..2 {
        assert_near("cluster jacobian", &jac[i], &want[i], FD);
    }
    let v = direction(6);
    let (_, t) = cluster_energy_virial_jvp(pos, [v[0], v[1], v[2], v[3], v[4], v[5]]);
    assert_near(
        "cluster jvp",
        &t,
        &[dot(&want[0], &v), dot(&want[1], &v)],
        FD,
    );
    // The energy's gradient is the first row; translations leave it unchanged.
    let (e, g) = cluster_energy_grad(pos);
    assert_eq!(e, ev[0]);
    assert_near("cluster grad", &g, &want[0], FD);
    assert!((g[0] + g[2] + g[4]).abs() < 1e-12 && (g[1] + g[3] + g[5]).abs() < 1e-12);
    // Newton's method on the energy with f_hessian: translations and the rotation make the
    // Hessian singular, so take the minimum-norm step on its range by adding a small shift.
    let mut p = pos;
    for _ in 0..40 {
        let (_, g, h) = cluster_energy_hessian(p);
        let grad_fd = |q: &[f64]| {
            let (_, g) = cluster_energy_grad([q[0], q[1], q[2], q[3], q[4], q[5]]);
            g.to_vec()
        };
        let hf: Vec<f64> = h.iter().flatten().copied().collect();
        common::oracles::check_hessian("cluster hessian", &hf, grad_fd, &p);
        let shifted: Vec<f64> = (0..36)
            .map(|k| hf[k] + if k % 7 == 0 { 1.0 } else { 0.0 })
            .collect();
        let step = solve(&shifted, &g);
        for k in 0..6 {
            p[k] -= step[k];
        }
    }
    // The minimum is an equilateral triangle of side 2^(1/6) σ.
    let side = |i: usize, j: usize| {
        ((p[2 * i] - p[2 * j]).powi(2) + (p[2 * i + 1] - p[2 * j + 1]).powi(2)).sqrt()
    };
    let r_min = 2.0_f64.powf(1.0 / 6.0);
    for (i, j) in [(0, 1), (0, 2), (1, 2)] {
        assert!(
            (side(i, j) - r_min).abs() < 1e-9,
            "side {i}{j}: {}",
            side(i, j)
        );
    }
    assert!((cluster_energy(p) + 3.0).abs() < 1e-12);
    // Second order of the two outputs: the tangent of wᵀJ against differences of the VJP.
    let w = [0.8, -0.3];
    let vw = [0.1, 0.4];
    let pv = [v[0], v[1], v[2], v[3], v[4], v[5]];
    let (_, _, tangent, hv) = cluster_energy_virial_hvp(pos, pv, w, vw);
    assert_near("cluster hvp tangent", &tangent, &t, 1e-12);
    let vjp = |z: &[f64]| {
        let (_, g) = cluster_energy_virial_vjp([z[0], z[1], z[2], z[3], z[4], z[5]], [z[6], z[7]]);
        g.to_vec()
    };
    let z = [pos[0], pos[1], pos[2], pos[3], pos[4], pos[5], w[0], w[1]];
    let vz = [v[0], v[1], v[2], v[3], v[4], v[5], vw[0], vw[1]];
    assert_near(
        "cluster hvp",
        &hv,
        &common::oracles::fd_directional(vjp, &z, &vz),
        FD,
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Functions of slices: Jacobians as row-major `Vec`s and into buffers
// ---------------------------------------------------------------------------------------------

/// The sample mean and variance by Welford's online update (Welford, Technometrics 1962; Knuth,
/// *The Art of Computer Programming*, vol. 2, §4.2.2, (15) and (16)).
#[differentiate(reverse, forward, hessian)]
fn welford(x: &[f64]) -> [f64; 2] {
    let mut mean = 0.0;
    let mut m2 = 0.0;
    for (k, &xi) in x.iter().enumerate() {
        let delta = xi - mean;
        mean += delta / (k + 1) as f64;
        m2 += delta * (xi - mean);
    }
    [mean, m2 / (x.len() - 1) as f64]
}

#[test]
fn welford_jacobian_any_length() {
    for n in [2, 3, 5, 6, 9, 17, 40] {
        let x: Vec<f64> = (0..n)
            .map(|i| (i as f64 * 1.3).sin() * 2.0 + 0.1 * i as f64)
            .collect();
        let nf = n as f64;
        let mean = x.iter().sum::<f64>() / nf;
        // ∂x̄/∂xᵢ = 1/n, ∂s²/∂xᵢ = 2(xᵢ − x̄)/(n − 1).
        let mut want = vec![1.0 / nf; n];
        want.extend(x.iter().map(|xi| 2.0 * (xi - mean) / (nf - 1.0)));
        let (out, jac) = welford_jacobian(&x);
        assert_eq!(out, welford(&x));
        assert_near("welford jacobian", &jac, &want, 1e-12);
        let mut buf = vec![f64::NAN; 2 * n];
        assert_eq!(welford_jacobian_into(&x, &mut buf), out);
        assert_near("welford jacobian_into", &buf, &want, 1e-12);
        // seedᵀ·J added into a buffer.
        let mut acc = vec![1.0; n];
        let (out_vjp,) = welford_vjp_into(&x, &mut acc, [2.0, -0.5]);
        assert_eq!(out_vjp, out);
        let want_acc: Vec<f64> = (0..n)
            .map(|i| 1.0 + 2.0 * want[i] - 0.5 * want[n + i])
            .collect();
        assert_near("welford vjp_into", &acc, &want_acc, 1e-12);
        // The variance's Hessian is 2/(n − 1) (I − 11ᵀ/n): H·v = 2/(n − 1) (v − v̄).
        let v = direction(n);
        let vbar = v.iter().sum::<f64>() / nf;
        let (_, _, tangent, hv) = welford_hvp(&x, &v, [0.0, 1.0], [0.0, 0.0]);
        let want_hv: Vec<f64> = v.iter().map(|vi| 2.0 * (vi - vbar) / (nf - 1.0)).collect();
        assert_near("welford hvp", &hv, &want_hv, 1e-12);
        assert_near(
            "welford tangent",
            &tangent,
            &[dot(&want[..n], &v), dot(&want[n..], &v)],
            1e-12,
        );
    }
}

/// The periodogram of a real series at its first eight Fourier frequencies,
/// `|Σₜ xₜ e^{−2πi k t / n}|² / n` (Brockwell and Davis, *Time Series: Theory and Methods*,
/// §10.1).
#[differentiate(reverse, forward, hessian)]
fn periodogram(x: &[f64]) -> [f64; 8] {
    let n = x.len();
    let mut power = [0.0; 8];
    for k in 0..8 {
        let mut re = 0.0;
        let mut im = 0.0;
        for t in 0..n {
            let w = 2.0 * std::f64::consts::PI * (k * t) as f64 / n as f64;
            re += x[t] * w.cos();
            im -= x[t] * w.sin();
        }
        power[k] = (re * re + im * im) / n as f64;
    }
    power
}

#[test]
fn periodogram_jacobian_forward_lanes_and_reverse_rows() {
    // Short series take forward sweeps in lanes, long ones reverse sweeps per output.
    for n in [1, 2, 7, 8, 9, 16, 17, 19, 20, 21, 33] {
        let x: Vec<f64> = (0..n)
            .map(|t| (0.7 * t as f64).cos() + 0.3 * (t % 3) as f64 - 0.2)
            .collect();
        let nf = n as f64;
        // ∂Pₖ/∂xₜ = 2 (Re cos ωₖₜ − Im sin ωₖₜ) / n.
        let mut want = Vec::new();
        for k in 0..8 {
            let w = |t: usize| 2.0 * std::f64::consts::PI * (k * t) as f64 / nf;
            let re: f64 = (0..n).map(|t| x[t] * w(t).cos()).sum();
            let im: f64 = -(0..n).map(|t| x[t] * w(t).sin()).sum::<f64>();
            want.extend((0..n).map(|t| 2.0 * (re * w(t).cos() - im * w(t).sin()) / nf));
        }
        let (p, jac) = periodogram_jacobian(&x);
        assert_eq!(p, periodogram(&x));
        assert_near(&format!("periodogram jacobian n = {n}"), &jac, &want, 1e-10);
        let mut buf = vec![0.5; 8 * n];
        periodogram_jacobian_into(&x, &mut buf);
        assert_eq!(buf, jac);
    }
}

/// Multi-view triangulation: the reprojection residuals of one point seen by four cameras, to be
/// refined by Gauss–Newton in the point alone (Hartley and Zisserman, *Multiple View Geometry*,
/// §12.4), through `ADBench`'s `project` writing into a buffer. Eight outputs of three inputs.
#[differentiate(reverse, forward, wrt(x))]
fn triangulation_residuals(x: [f64; 3], cams: &[f64], feats: &[f64]) -> [f64; 8] {
    let mut r = [0.0; 8];
    let mut proj = [0.0; 2];
    for c in 0..4 {
        project(&cams[c * 11..(c + 1) * 11], &x, &mut proj);
        r[2 * c] = proj[0] - feats[2 * c];
        r[2 * c + 1] = proj[1] - feats[2 * c + 1];
    }
    r
}

#[test]
fn triangulation_jacobian_through_a_buffer_helper() {
    let mut cams = Vec::new();
    for c in 0..4_u8 {
        let a = f64::from(c);
        cams.extend_from_slice(&[
            0.05 * a,
            -0.1 + 0.07 * a,
            0.02,
            -0.6 + 0.4 * a,
            0.1 * a,
            -3.0,
            400.0 + 10.0 * a,
            320.0,
            240.0,
            -0.05,
            0.01,
        ]);
    }
    let feats = [300.0, 220.0, 310.0, 230.0, 330.0, 210.0, 350.0, 260.0];
    let x = [0.2, -0.1, 1.5];
    let f = |q: &[f64]| triangulation_residuals([q[0], q[1], q[2]], &cams, &feats).to_vec();
    let want = fd_jacobian(f, &x);
    let (r, jac) = triangulation_residuals_jacobian(x, &cams, &feats);
    assert_eq!(r.to_vec(), f(&x));
    // Every active parameter has a fixed size: `[[f64; 3]; 8]`.
    for i in 0..8 {
        assert_near("triangulation jacobian", &jac[i], &want[i], FD);
    }
    let (_, t) = triangulation_residuals_jvp(x, [1.0, 0.5, -0.25], &cams, &feats);
    let want_t: Vec<f64> = want
        .iter()
        .map(|row| dot(row, &[1.0, 0.5, -0.25]))
        .collect();
    assert_near("triangulation jvp", &t, &want_t, FD);
}

// ---------------------------------------------------------------------------------------------
// 10. Black–Scholes: second-order Greeks through a hand-written normal CDF
// ---------------------------------------------------------------------------------------------

/// The standard normal distribution function by *Numerical Recipes*' `erfcc` (§6.2, Chebyshev
/// fit, relative error below 1.2e-7), outside the macro's reach.
fn norm_cdf(x: f64) -> f64 {
    let z = (x / std::f64::consts::SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

/// The standard normal density.
fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// By hand: the value, then `Φ'(x) = φ(x)`.
fn norm_cdf_grad(x: f64) -> (f64, f64) {
    (norm_cdf(x), norm_pdf(x))
}

/// By hand: the value and the tangent.
fn norm_cdf_jvp(x: f64, d_x: f64) -> (f64, f64) {
    (norm_cdf(x), norm_pdf(x) * d_x)
}

/// By hand: the value, the gradient, and the second derivative along `v_x`: `φ'(x) = −x φ(x)`.
fn norm_cdf_hvp(x: f64, v_x: f64) -> (f64, f64, f64) {
    let p = norm_pdf(x);
    (norm_cdf(x), p, -x * p * v_x)
}

/// The Black–Scholes price of a European call (Hull, *Options, Futures, and Other
/// Derivatives*, §15.8), in the spot `s`, the volatility `sigma`, the rate `r` and the maturity `t`.
#[differentiate(reverse, forward, hessian, wrt(s, sigma, r, t))]
fn black_scholes_call(s: f64, k: f64, sigma: f64, r: f64, t: f64) -> f64 {
    let sqrt_t = t.sqrt();
    let d1 = ((s / k).ln() + (r + 0.5 * sigma * sigma) * t) / (sigma * sqrt_t);
    let d2 = d1 - sigma * sqrt_t;
    s * norm_cdf(d1) - k * (-r * t).exp() * norm_cdf(d2)
}

#[test]
fn black_scholes_greeks() {
    for (s, k, sigma, r, t) in [
        (100.0, 95.0, 0.25, 0.03, 0.75),
        (42.0, 40.0, 0.2, 0.1, 0.5),
        (80.0, 120.0, 0.4, 0.01, 2.0),
    ] {
        let sqrt_t: f64 = t.sqrt();
        let d1 = ((s / k).ln() + (r + 0.5 * sigma * sigma) * t) / (sigma * sqrt_t);
        let d2 = d1 - sigma * sqrt_t;
        let disc = (-r * t).exp();
        // Hull's Greeks: delta, vega, rho, and theta with the sign of ∂/∂t.
        let delta = norm_cdf(d1);
        let vega = s * norm_pdf(d1) * sqrt_t;
        let rho = k * t * disc * norm_cdf(d2);
        let dt = s * norm_pdf(d1) * sigma / (2.0 * sqrt_t) + r * k * disc * norm_cdf(d2);
        let (price, g_s, g_sigma, g_r, g_t, hess) = black_scholes_call_hessian(s, k, sigma, r, t);
        assert_eq!(price, black_scholes_call(s, k, sigma, r, t));
        assert_near(
            "greeks",
            &[g_s, g_sigma, g_r, g_t],
            &[delta, vega, rho, dt],
            1e-10,
        );
        // Gamma, vanna and volga (vomma).
        let gamma = norm_pdf(d1) / (s * sigma * sqrt_t);
        let vanna = -norm_pdf(d1) * d2 / sigma;
        let volga = vega * d1 * d2 / sigma;
        assert_near("gamma", &[hess[0][0]], &[gamma], 1e-9);
        assert_near("vanna", &[hess[0][1], hess[1][0]], &[vanna, vanna], 1e-9);
        assert_near("volga", &[hess[1][1]], &[volga], 1e-9);
        // The whole Hessian against differences of the gradient.
        let grad = |q: &[f64]| {
            let (_, a, b, c, d) = black_scholes_call_grad(q[0], k, q[1], q[2], q[3]);
            vec![a, b, c, d]
        };
        let hf: Vec<f64> = hess.iter().flatten().copied().collect();
        common::oracles::check_hessian("black-scholes hessian", &hf, grad, &[s, sigma, r, t]);
        let (_, tangent) = black_scholes_call_jvp(s, 1.0, k, sigma, 0.0, r, 0.0, t, 0.0);
        assert_near("delta by jvp", &[tangent], &[delta], 1e-12);
    }
}

// ---------------------------------------------------------------------------------------------
// 11. Kepler's equation solved by Newton's method inside the differentiated function
// ---------------------------------------------------------------------------------------------

/// The position in the orbital plane from the mean anomaly `m`, the eccentricity `e` and the
/// semi-major axis `a`: Kepler's equation `E − e sin E = M` by Newton's method until the step is
/// below 1e-15 (Vallado, *Fundamentals of Astrodynamics and Applications*, Algorithm 2), then
/// `x = a (cos E − e)`, `y = a √(1 − e²) sin E`.
#[differentiate(reverse, forward, hessian)]
fn kepler_position(m: f64, e: f64, a: f64) -> [f64; 2] {
    let mut big_e = if e < 0.8 { m } else { std::f64::consts::PI };
    loop {
        let step = (big_e - e * big_e.sin() - m) / (1.0 - e * big_e.cos());
        big_e -= step;
        if step.abs() < 1e-15 {
            break;
        }
    }
    [
        a * (big_e.cos() - e),
        a * (1.0 - e * e).sqrt() * big_e.sin(),
    ]
}

#[test]
fn kepler_position_through_the_converged_iteration() {
    for (m, e, a) in [(0.7, 0.1, 1.0), (2.5, 0.6, 7000.0), (1.0, 0.85, 2.0)] {
        // By the implicit function theorem: ∂E/∂M = 1/(1 − e cos E), ∂E/∂e = sin E/(1 − e cos E).
        let big_e = {
            let mut x = m;
            for _ in 0..100 {
                x -= (x - e * x.sin() - m) / (1.0 - e * x.cos());
            }
            x
        };
        let den = 1.0 - e * big_e.cos();
        let (de_dm, de_de) = (1.0 / den, big_e.sin() / den);
        let b = (1.0 - e * e).sqrt();
        let want = [
            [
                -a * big_e.sin() * de_dm,
                -a * big_e.sin() * de_de - a,
                big_e.cos() - e,
            ],
            [
                a * b * big_e.cos() * de_dm,
                a * b * big_e.cos() * de_de - a * e / b * big_e.sin(),
                b * big_e.sin(),
            ],
        ];
        let (pos, jac) = kepler_position_jacobian(m, e, a);
        assert_eq!(pos, kepler_position(m, e, a));
        for i in 0..2 {
            assert_near("kepler jacobian", &jac[i], &want[i], 1e-9);
        }
        let (_, t) = kepler_position_jvp(m, 1.0, e, 0.0, a, 0.0);
        assert_near("kepler jvp", &t, &[want[0][0], want[1][0]], 1e-9);
        // Second order against differences of the reverse-mode VJP.
        let w = [0.6, -0.8];
        let (_, _, _, _, _, hv_m, hv_e, hv_a) =
            kepler_position_hvp(m, 0.3, e, -0.1, a, 0.2, w, [0.0, 0.0]);
        let vjp = |q: &[f64]| {
            let (_, x, y, z) = kepler_position_vjp(q[0], q[1], q[2], w);
            vec![x, y, z]
        };
        let want_hv = common::oracles::fd_directional(vjp, &[m, e, a], &[0.3, -0.1, 0.2]);
        assert_near("kepler hvp", &[hv_m, hv_e, hv_a], &want_hv, 1e-6);
    }
}

// ---------------------------------------------------------------------------------------------
// 12. Generic floats: the Student-t log-likelihood over `T: Float`
// ---------------------------------------------------------------------------------------------

/// `gammln` generic over the float type, its constants through `T::from`.
#[differentiate(reverse, forward, hessian)]
fn gammln_generic<T: Float>(xx: T) -> T {
    let c = |v: f64| T::from(v).unwrap();
    let cof = [
        c(76.180_091_729_471_46),
        c(-86.505_320_329_416_77),
        c(24.014_098_240_830_91),
        c(-1.231_739_572_450_155),
        c(0.120_865_097_386_617_9e-2),
        c(-0.539_523_938_495_3e-5),
    ];
    let x = xx;
    let mut y = xx;
    let mut tmp = x + c(5.5);
    tmp = tmp - (x + c(0.5)) * tmp.ln();
    let mut ser = c(1.000_000_000_190_015);
    for j in 0..6 {
        y = y + T::one();
        ser = ser + cof[j] / y;
    }
    -tmp + (c(2.506_628_274_631_000_5) * ser / x).ln()
}

/// The Student-t log-likelihood of section 5, generic over the float type.
#[differentiate(reverse, forward, hessian, wrt(mu, sigma, nu))]
fn student_t_generic<T: Float>(mu: T, sigma: T, nu: T, x: &[T]) -> T {
    let half = T::from(0.5).unwrap();
    let pi = T::from(std::f64::consts::PI).unwrap();
    let n = T::from(x.len()).unwrap();
    let mut s = T::zero();
    for &xi in x {
        let z = (xi - mu) / sigma;
        s = s + (T::one() + z * z / nu).ln();
    }
    n * (gammln_generic(half * (nu + T::one()))
        - gammln_generic(half * nu)
        - half * (nu * pi).ln()
        - sigma.ln())
        - half * (nu + T::one()) * s
}

#[test]
fn student_t_generic_matches_the_f64_program() {
    let x = [0.3, -1.2, 2.8, 0.1, -0.4, 5.9, 0.7, -2.2];
    let (mu, sigma, nu) = (0.2, 1.1, 3.5);
    let (v, a, b, c, h) = student_t_generic_hessian(mu, sigma, nu, &x);
    let (v0, a0, b0, c0, h0) = student_t_log_likelihood_hessian(mu, sigma, nu, &x);
    assert_near("generic value", &[v], &[v0], 1e-13);
    assert_near("generic grad", &[a, b, c], &[a0, b0, c0], 1e-12);
    for i in 0..3 {
        assert_near("generic hessian", &h[i], &h0[i], 1e-11);
    }
    let g = |q: &[f64]| {
        let (_, a, b, c) = student_t_generic_grad(q[0], q[1], q[2], &x);
        vec![a, b, c]
    };
    let hf: Vec<f64> = h.iter().flatten().copied().collect();
    common::oracles::check_hessian("generic t hessian", &hf, g, &[mu, sigma, nu]);
    // In f32.
    let x32 = x.map(|v| v as f32);
    let (_, a32, b32, c32, h32) = student_t_generic_hessian(0.2f32, 1.1, 3.5, &x32);
    for (g32, g64) in [a32, b32, c32].iter().zip([a, b, c]) {
        assert!((f64::from(*g32) - g64).abs() < 1e-3 * g64.abs().max(1.0));
    }
    for i in 0..3 {
        for j in 0..3 {
            assert!((f64::from(h32[i][j]) - h[i][j]).abs() < 1e-3 * h[i][j].abs().max(1.0));
        }
    }
    let (_, t) = student_t_generic_jvp(mu, 1.0, sigma, 0.0, nu, 0.0, &x);
    assert_near("generic jvp", &[t], &[a], 1e-12);
}

// ---------------------------------------------------------------------------------------------
// 13. ADBench's Gaussian mixture model objective, its gradient and its Hessian
// ---------------------------------------------------------------------------------------------

/// The Wishart prior's parameters, constants of the objective.
#[derive(Clone, Copy)]
struct Wishart {
    gamma: f64,
    m: i32,
}

/// The log of the multivariate gamma function `Γ_p(a)`, a constant of the prior: an ordinary
/// function, not differentiated.
fn log_gamma_distrib(a: f64, p: i32) -> f64 {
    let mut out = 0.25 * f64::from(p * (p - 1)) * std::f64::consts::PI.ln();
    for j in 1..=p {
        out += gammln(a + 0.5 * f64::from(1 - j));
    }
    out
}

/// `log Σ exp(xᵢ)`, shifted by the largest element.
#[differentiate(reverse, forward, hessian)]
fn logsumexp(x: &[f64]) -> f64 {
    let mx = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let mut semx = 0.0;
    for i in 0..x.len() {
        semx += (x[i] - mx).exp();
    }
    semx.ln() + mx
}

/// Per component, the sum of the log-diagonal of the inverse covariance factor and its
/// exponentiated diagonal, written into two buffers.
#[differentiate(reverse, forward, hessian)]
fn preprocess_qs(d: usize, k: usize, icf: &[f64], sum_qs: &mut [f64], qdiags: &mut [f64]) {
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

/// `out = Q x` for the lower-triangular `Q` given by its diagonal and its strictly lower part
/// stored column by column.
#[differentiate(reverse, forward, hessian)]
fn qtimesx(qdiag: &[f64], ltri: &[f64], x: &[f64], out: &mut [f64]) {
    let d = x.len();
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

/// `out = x − y`.
#[differentiate(reverse, forward, hessian)]
fn subtract(x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = x[i] - y[i];
    }
}

/// The log of the Wishart prior on the precision matrices.
#[differentiate(reverse, forward, hessian)]
fn log_wishart_prior(
    p: usize,
    k: usize,
    wishart: Wishart,
    sum_qs: &[f64],
    qdiags: &[f64],
    icf: &[f64],
) -> f64 {
    let n = p as i32 + wishart.m + 1;
    let icf_sz = p * (p + 1) / 2;
    let c = f64::from(n * p as i32) * (wishart.gamma.ln() - 0.5 * 2.0_f64.ln())
        - log_gamma_distrib(0.5 * f64::from(n), p as i32);
    let mut out = 0.0;
    for ik in 0..k {
        let frobenius =
            sqsum(&qdiags[ik * p..(ik + 1) * p]) + sqsum(&icf[ik * icf_sz + p..(ik + 1) * icf_sz]);
        out += 0.5 * wishart.gamma * wishart.gamma * frobenius - f64::from(wishart.m) * sum_qs[ik];
    }
    out - k as f64 * c
}

/// `ADBench`'s `gmm_objective` (`src/cpp/shared/gmm.h`): the negative log-likelihood of `n`
/// points in `d` dimensions under `k` Gaussians with log-weights `alphas`, `means`, and inverse
/// covariance factors `icf`, plus the Wishart prior.
#[differentiate(reverse, forward, hessian, wrt(alphas, means, icf))]
#[allow(clippy::too_many_arguments)] // ADBench's signature
fn gmm_objective(
    d: usize,
    k: usize,
    n: usize,
    alphas: &[f64],
    means: &[f64],
    icf: &[f64],
    x: &[f64],
    wishart: Wishart,
) -> f64 {
    let constant = -((n * d) as f64) * 0.5 * (2.0 * std::f64::consts::PI).ln();
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
            main_term[ik] = alphas[ik] + sum_qs[ik] - 0.5 * sqsum(&qxcentered);
        }
        slse += logsumexp(&main_term);
    }
    let lse_alphas = logsumexp(alphas);
    let mut err = constant + slse - n as f64 * lse_alphas;
    err += log_wishart_prior(d, k, wishart, &sum_qs, &qdiags, icf);
    err
}

#[test]
fn gmm_objective_gradient_and_hessian() {
    let (d, k, n) = (3, 2, 5);
    let icf_sz = d * (d + 1) / 2;
    let alphas = [0.3, -0.4];
    let means = [0.1, -0.2, 0.5, 1.2, 0.8, -0.6];
    let icf: Vec<f64> = (0..k * icf_sz)
        .map(|i| 0.2 * ((i * 5 % 7) as f64 - 3.0) / 3.0)
        .collect();
    let x: Vec<f64> = (0..n * d).map(|i| (0.9 * i as f64).sin() * 1.5).collect();
    let wishart = Wishart { gamma: 1.0, m: 0 };
    let na = k;
    let nm = k * d;
    let split = |q: &[f64]| {
        (
            q[..na].to_vec(),
            q[na..na + nm].to_vec(),
            q[na + nm..].to_vec(),
        )
    };
    let f = |q: &[f64]| {
        let (a, m, i) = split(q);
        gmm_objective(d, k, n, &a, &m, &i, &x, wishart)
    };
    let grad = |q: &[f64]| {
        let (a, m, i) = split(q);
        let (_, mut g, gm, gi) = gmm_objective_grad(d, k, n, &a, &m, &i, &x, wishart);
        g.extend_from_slice(&gm);
        g.extend_from_slice(&gi);
        g
    };
    let mut p = alphas.to_vec();
    p.extend_from_slice(&means);
    p.extend_from_slice(&icf);
    assert_near(
        "gmm grad",
        &grad(&p),
        &common::oracles::fd_gradient(f, &p),
        FD,
    );
    // The objective is invariant under adding a constant to every log-weight.
    let g = grad(&p);
    assert!((g[0] + g[1]).abs() < 1e-10, "{g:?}");
    let (value, _, _, _, hess) = gmm_objective_hessian(d, k, n, &alphas, &means, &icf, &x, wishart);
    assert_eq!(value, f(&p));
    common::oracles::check_hessian("gmm hessian", &hess, grad, &p);
    // H·v by f_hvp.
    let v = direction(p.len());
    let (_, _, _, _, hv_a, hv_m, hv_i) = gmm_objective_hvp(
        d,
        k,
        n,
        &alphas,
        &v[..na],
        &means,
        &v[na..na + nm],
        &icf,
        &v[na + nm..],
        &x,
        wishart,
    );
    let mut hv = hv_a;
    hv.extend_from_slice(&hv_m);
    hv.extend_from_slice(&hv_i);
    let np = p.len();
    let want: Vec<f64> = (0..np)
        .map(|i| dot(&hess[i * np..(i + 1) * np], &v))
        .collect();
    assert_near("gmm hvp", &hv, &want, 1e-9);
}

// ---------------------------------------------------------------------------------------------
// 14. A classical Runge–Kutta step over a right-hand side that writes into a buffer
// ---------------------------------------------------------------------------------------------

/// One step of the classical Runge–Kutta method, as GSL's `rk4` stepper (`ode-initval2/rk4.c`)
/// arranges it: the right-hand side writes each stage into a local buffer, the stages are
/// combined into `y_next`. The step's Jacobian is the Brusselator's sensitivity over `h`.
#[differentiate(reverse, forward, hessian)]
fn brusselator_rk4(y: &[f64], alpha: f64, h: f64, y_next: &mut [f64]) {
    let n = y.len();
    let mut k1 = vec![0.0; n];
    let mut k2 = vec![0.0; n];
    let mut k3 = vec![0.0; n];
    let mut k4 = vec![0.0; n];
    let mut ytmp = vec![0.0; n];
    brusselator(y, alpha, &mut k1);
    for i in 0..n {
        ytmp[i] = y[i] + 0.5 * h * k1[i];
    }
    brusselator(&ytmp, alpha, &mut k2);
    for i in 0..n {
        ytmp[i] = y[i] + 0.5 * h * k2[i];
    }
    brusselator(&ytmp, alpha, &mut k3);
    for i in 0..n {
        ytmp[i] = y[i] + h * k3[i];
    }
    brusselator(&ytmp, alpha, &mut k4);
    for i in 0..n {
        y_next[i] = y[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
}

fn brusselator_rk4_flat(z: &[f64]) -> Vec<f64> {
    let m = z.len() - 2;
    let mut out = vec![0.0; m];
    brusselator_rk4(&z[..m], z[m], z[m + 1], &mut out);
    out
}

#[test]
fn runge_kutta_step_through_a_buffer_right_hand_side() {
    let m = 8;
    let y: Vec<f64> = (0..m).map(|i| 1.0 + 0.4 * (i as f64 * 0.9).cos()).collect();
    let (alpha, h) = (0.02, 0.05);
    let mut z = y.clone();
    z.extend_from_slice(&[alpha, h]);
    let jac = fd_jacobian(brusselator_rk4_flat, &z);
    // Rows: wᵀ·J added into buffers.
    let w = direction(m);
    let (mut d_y, mut out, mut seed) = (vec![0.0; m], vec![0.0; m], w.clone());
    let (d_alpha, d_h) = brusselator_rk4_vjp_into(&y, &mut d_y, alpha, h, &mut out, &mut seed);
    assert_eq!(out, brusselator_rk4_flat(&z));
    let want: Vec<f64> = (0..m + 2)
        .map(|j| (0..m).map(|i| w[i] * jac[i][j]).sum())
        .collect();
    let mut got = d_y.clone();
    got.extend_from_slice(&[d_alpha, d_h]);
    assert_near("rk4 step vjp", &got, &want, FD);
    // Columns: J·v.
    let v = direction(m + 2);
    let (mut out2, mut t) = (vec![0.0; m], vec![0.0; m]);
    brusselator_rk4_jvp(&y, &v[..m], alpha, v[m], h, v[m + 1], &mut out2, &mut t);
    let want_t: Vec<f64> = jac.iter().map(|r| dot(r, &v)).collect();
    assert_near("rk4 step jvp", &t, &want_t, FD);
    // Second order against differences of the VJP.
    let v_w: Vec<f64> = (0..m).map(|i| 0.2 - 0.05 * i as f64).collect();
    let (mut d_y, mut hv_y) = (vec![0.0; m], vec![0.0; m]);
    let (mut out3, mut v_out) = (vec![0.0; m], vec![0.0; m]);
    let (mut seed, mut v_seed) = (w.clone(), v_w.clone());
    let (d_alpha, d_h, hv_alpha, hv_h) = brusselator_rk4_hvp_into(
        &y,
        &v[..m],
        &mut d_y,
        &mut hv_y,
        alpha,
        v[m],
        h,
        v[m + 1],
        &mut out3,
        &mut v_out,
        &mut seed,
        &mut v_seed,
    );
    assert_near("rk4 step hvp grad", &[d_alpha, d_h], &want[m..], FD);
    assert_near("rk4 step hvp tangent", &v_out, &want_t, FD);
    let vjp = |q: &[f64]| {
        let (mut d_y, mut out, mut seed) = (vec![0.0; m], vec![0.0; m], q[m + 2..].to_vec());
        let (a, b) =
            brusselator_rk4_vjp_into(&q[..m], &mut d_y, q[m], q[m + 1], &mut out, &mut seed);
        d_y.extend_from_slice(&[a, b]);
        d_y
    };
    let mut zz = z.clone();
    zz.extend_from_slice(&w);
    let mut vz = v.clone();
    vz.extend_from_slice(&v_w);
    let want_hv = common::oracles::fd_directional(vjp, &zz, &vz);
    let mut got_hv = hv_y.clone();
    got_hv.extend_from_slice(&[hv_alpha, hv_h]);
    assert_near("rk4 step hvp", &got_hv, &want_hv, FD);
}

// ---------------------------------------------------------------------------------------------
// 15. Hand-written derivatives of a function with several outputs: `sin_cos`
// ---------------------------------------------------------------------------------------------

/// `f64::sin_cos` as a user's function with two outputs whose derivatives are written by hand
/// (the macro differentiates `a.sin_cos()` itself too: see [`arm_tip_method`]).
fn sin_cos(a: f64) -> (f64, f64) {
    a.sin_cos()
}

/// By hand: `seedᵀ·J`.
fn sin_cos_vjp(a: f64, seed: (f64, f64)) -> ((f64, f64), f64) {
    let (s, c) = a.sin_cos();
    ((s, c), seed.0 * c - seed.1 * s)
}

/// By hand: `J·d_a`.
fn sin_cos_jvp(a: f64, d_a: f64) -> ((f64, f64), (f64, f64)) {
    let (s, c) = a.sin_cos();
    ((s, c), (c * d_a, -s * d_a))
}

/// By hand: the VJP, the tangent `J·v_a`, and the VJP's tangent
/// `(seedᵀ·H)·v_a + v_seedᵀ·J`.
fn sin_cos_hvp(
    a: f64,
    v_a: f64,
    seed: (f64, f64),
    v_seed: (f64, f64),
) -> ((f64, f64), f64, (f64, f64), f64) {
    let (s, c) = a.sin_cos();
    let grad = seed.0 * c - seed.1 * s;
    let hv = (-seed.0 * s - seed.1 * c) * v_a + v_seed.0 * c - v_seed.1 * s;
    ((s, c), grad, (c * v_a, -s * v_a), hv)
}

/// The planar arm of section 6, its rotations through `sin_cos` as robotics code writes them.
#[differentiate(reverse, forward, hessian)]
fn arm_tip(theta: [f64; 3], lengths: [f64; 3]) -> [f64; 2] {
    let mut angle = 0.0;
    let mut tip = [0.0; 2];
    for i in 0..3 {
        angle += theta[i];
        let (s, c) = sin_cos(angle);
        tip[0] += lengths[i] * c;
        tip[1] += lengths[i] * s;
    }
    tip
}

/// The same with the method itself, `angle.sin_cos()`.
#[differentiate(reverse, forward, hessian)]
fn arm_tip_method(theta: [f64; 3], lengths: [f64; 3]) -> [f64; 2] {
    let mut angle = 0.0;
    let mut tip = [0.0; 2];
    for i in 0..3 {
        angle += theta[i];
        let (s, c) = angle.sin_cos();
        tip[0] += lengths[i] * c;
        tip[1] += lengths[i] * s;
    }
    tip
}

/// Half the squared distance of the tip to a target, for Newton's method.
#[differentiate(reverse, forward, hessian)]
fn arm_cost(theta: [f64; 3], lengths: [f64; 3], target: [f64; 2]) -> f64 {
    let tip = arm_tip(theta, lengths);
    let dx = tip[0] - target[0];
    let dy = tip[1] - target[1];
    0.5 * (dx * dx + dy * dy)
}

#[test]
fn arm_through_hand_written_sin_cos() {
    let lengths = [1.0, 0.8, 0.5];
    let theta = [0.3, 0.4, -0.2];
    let (tip, jac) = arm_tip_jacobian(theta, lengths);
    let target = [1.2, 1.1];
    let e = ik_residual(theta, lengths, target);
    assert_near(
        "arm tip",
        &tip,
        &[e[0] + target[0], e[1] + target[1]],
        1e-14,
    );
    // Columns θ, then the lengths: ∂tip/∂lᵢ = (cos φᵢ, sin φᵢ).
    let by_hand = ik_jacobian_by_hand(theta, lengths);
    let phi = [0.3, 0.7, 0.5_f64];
    let (tip_m, jac_m) = arm_tip_method_jacobian(theta, lengths);
    assert_eq!(tip_m, tip);
    for i in 0..2 {
        assert_near("arm jacobian θ", &jac[i][..3], &by_hand[i], EXACT);
        let want: Vec<f64> = phi
            .iter()
            .map(|p| if i == 0 { p.cos() } else { p.sin() })
            .collect();
        assert_near("arm jacobian l", &jac[i][3..], &want, EXACT);
        assert_near(
            "arm_tip_method jacobian θ",
            &jac_m[i][..3],
            &by_hand[i],
            EXACT,
        );
        assert_near("arm_tip_method jacobian l", &jac_m[i][3..], &want, EXACT);
    }
    // The cost's gradient is eᵀJ, its Hessian JᵀJ + Σ eᵢ ∇²eᵢ, against differences.
    let grad = |q: &[f64]| {
        let (_, g, gl, gt) = arm_cost_grad([q[0], q[1], q[2]], [q[3], q[4], q[5]], [q[6], q[7]]);
        let mut v = g.to_vec();
        v.extend_from_slice(&gl);
        v.extend_from_slice(&gt);
        v
    };
    let (_, g, _, _) = arm_cost_grad(theta, lengths, target);
    let want: Vec<f64> = (0..3)
        .map(|j| e[0] * by_hand[0][j] + e[1] * by_hand[1][j])
        .collect();
    assert_near("arm cost grad", &g, &want, EXACT);
    let (_, _, _, _, hess) = arm_cost_hessian(theta, lengths, target);
    let hf: Vec<f64> = hess.iter().flatten().copied().collect();
    let mut p = theta.to_vec();
    p.extend_from_slice(&lengths);
    p.extend_from_slice(&target);
    common::oracles::check_hessian("arm cost hessian", &hf, grad, &p);
    // Levenberg–Marquardt on the angles alone with the full Hessian's angle block, the damping
    // halved on success and doubled on failure (the arm is redundant: one direction is flat).
    let mut th = theta;
    let mut mu = 1.0;
    for _ in 0..100 {
        let (c, g, _, _, h) = arm_cost_hessian(th, lengths, target);
        let block: Vec<f64> = (0..9)
            .map(|k| h[k / 3][k % 3] + if k % 4 == 0 { mu } else { 0.0 })
            .collect();
        let step = solve(&block, &g);
        let trial = [th[0] - step[0], th[1] - step[1], th[2] - step[2]];
        if arm_cost(trial, lengths, target) < c {
            th = trial;
            mu *= 0.5;
        } else {
            mu *= 2.0;
        }
    }
    assert!(
        arm_cost(th, lengths, target) < 1e-20,
        "{}",
        arm_cost(th, lengths, target)
    );
}

// ---------------------------------------------------------------------------------------------
// 16. Adjoint sensitivities of an N-body integration through the buffer right-hand side
// ---------------------------------------------------------------------------------------------

/// The squared distance between the first two bodies after `steps` steps of the symplectic
/// Euler method (Hairer, Lubich and Wanner, §I.1.2), the state updated in place and the
/// right-hand side of section 3 writing the accelerations into a buffer at each step.
#[differentiate(reverse, forward, hessian)]
fn nbody_final_separation(state0: &[f64], masses: &[f64], h: f64, steps: usize) -> f64 {
    let n = masses.len();
    let mut state = state0.to_vec();
    let mut deriv = vec![0.0; state0.len()];
    for _ in 0..steps {
        gravity(&state, masses, 1.0, &mut deriv);
        for k in 0..3 * n {
            state[3 * n + k] += h * deriv[3 * n + k];
        }
        for k in 0..3 * n {
            state[k] += h * state[3 * n + k];
        }
    }
    let dx = state[0] - state[3];
    let dy = state[1] - state[4];
    let dz = state[2] - state[5];
    dx * dx + dy * dy + dz * dz
}

#[test]
fn nbody_integration_gradient_and_hessian() {
    let (state, masses, _) = three_bodies();
    let (h, steps) = (0.01, 25);
    let mut p = state.clone();
    p.extend_from_slice(&masses);
    p.push(h);
    let f = |q: &[f64]| nbody_final_separation(&q[..18], &q[18..21], q[21], steps);
    let grad = |q: &[f64]| {
        let (_, mut g, gm, gh) = nbody_final_separation_grad(&q[..18], &q[18..21], q[21], steps);
        g.extend_from_slice(&gm);
        g.push(gh);
        g
    };
    assert_near(
        "nbody grad",
        &grad(&p),
        &common::oracles::fd_gradient(f, &p),
        FD,
    );
    let (val, _, _, _, hess) = nbody_final_separation_hessian(&state, &masses, h, steps);
    assert_eq!(val, f(&p));
    common::oracles::check_hessian("nbody hessian", &hess, grad, &p);
    let v = direction(22);
    let (_, t) = nbody_final_separation_jvp(&state, &v[..18], &masses, &v[18..21], h, v[21], steps);
    assert_near("nbody jvp", &[t], &[dot(&grad(&p), &v)], 1e-10);
}

// ---------------------------------------------------------------------------------------------
// 17. A linearly implicit Euler step: a linear solve with pivoting inside the function
// ---------------------------------------------------------------------------------------------

/// One step of the linearly implicit Euler method for Robertson's problem (Hairer and Wanner,
/// II, §IV.9, (9.4)): `(I − h J) Δ = h f(y)`, `y + Δ`, with `J` Robertson's Jacobian written
/// out and the 3 × 3 system solved by Gaussian elimination with partial pivoting, the matrix
/// stored row-major in a flat array (`[[f64; 3]; 3]` is a compile error: arrays of arrays are
/// not supported, README's "Not supported"), rows swapped with `slice::swap`.
#[differentiate(reverse, forward)]
fn robertson_linearly_implicit(y: [f64; 3], h: f64) -> [f64; 3] {
    let f = robertson(y);
    let mut a = [0.0; 9];
    a[0] = 1.0 + h * 0.04;
    a[1] = -h * 1.0e4 * y[2];
    a[2] = -h * 1.0e4 * y[1];
    a[3] = -h * 0.04;
    a[4] = 1.0 + h * (1.0e4 * y[2] + 6.0e7 * y[1]);
    a[5] = h * 1.0e4 * y[1];
    a[6] = 0.0;
    a[7] = -h * 6.0e7 * y[1];
    a[8] = 1.0;
    let mut b = [h * f[0], h * f[1], h * f[2]];
    for k in 0..3 {
        // The pivot: the largest entry of column k on or below the diagonal.
        let mut p = k;
        for i in k + 1..3 {
            if a[i * 3 + k].abs() > a[p * 3 + k].abs() {
                p = i;
            }
        }
        if p != k {
            for j in 0..3 {
                a.swap(k * 3 + j, p * 3 + j);
            }
            b.swap(k, p);
        }
        for i in k + 1..3 {
            let factor = a[i * 3 + k] / a[k * 3 + k];
            for j in k..3 {
                a[i * 3 + j] -= factor * a[k * 3 + j];
            }
            b[i] -= factor * b[k];
        }
    }
    let mut delta = [0.0; 3];
    for i in (0..3).rev() {
        let mut s = b[i];
        for j in i + 1..3 {
            s -= a[i * 3 + j] * delta[j];
        }
        delta[i] = s / a[i * 3 + i];
    }
    [y[0] + delta[0], y[1] + delta[1], y[2] + delta[2]]
}

#[test]
fn linearly_implicit_euler_step_sensitivities() {
    // Pivoting changes rows where the large rate constants dominate.
    for (y, h) in [
        ([1.0, 0.0, 0.0], 1.0e-3),
        ([0.9, 3.2e-5, 0.1], 0.05),
        ([0.2, 1.1e-6, 0.8], 10.0),
    ] {
        let f = |q: &[f64]| robertson_linearly_implicit([q[0], q[1], q[2]], q[3]).to_vec();
        let p = [y[0], y[1], y[2], h];
        // Differences in variables scaled to their size: y₂ lives near 1e-5.
        let scale = [1.0, 1.0e-6, 1.0, h];
        let scaled = |q: &[f64]| f(&[q[0], q[1] * scale[1], q[2], q[3] * scale[3]]);
        let want: Vec<Vec<f64>> = fd_jacobian(scaled, &[p[0], p[1] / scale[1], p[2], 1.0])
            .into_iter()
            .map(|row| (0..4).map(|j| row[j] / scale[j]).collect())
            .collect();
        let (next, jac) = robertson_linearly_implicit_jacobian(y, h);
        assert_eq!(next.to_vec(), f(&p));
        // Mass is conserved by the step, so the rows of its Jacobian sum to (1, 1, 1, 0).
        for j in 0..4 {
            let s = jac[0][j] + jac[1][j] + jac[2][j];
            let e = if j < 3 { 1.0 } else { 0.0 };
            assert!((s - e).abs() < 1e-9, "column {j}: {s}");
        }
        // Column by column: the y₂ column's differences carry roundoff of 1e-7.
        for j in 0..4 {
            let got: Vec<f64> = (0..3).map(|i| jac[i][j]).collect();
            let col: Vec<f64> = (0..3).map(|i| want[i][j]).collect();
            assert_near("linearly implicit jacobian", &got, &col, 1e-4);
        }
        let (_, t) = robertson_linearly_implicit_jvp(y, [0.1, -1.0e-6, 0.3], h, 0.01);
        let v = [0.1, -1.0e-6, 0.3, 0.01];
        let want_t: Vec<f64> = jac.iter().map(|r| dot(r, &v)).collect();
        assert_near("linearly implicit jvp", &t, &want_t, 1e-10);
    }
}

// ---------------------------------------------------------------------------------------------
// 18. Velocity Verlet over a force routine that returns the energy and writes the forces
// ---------------------------------------------------------------------------------------------

/// The forces of a harmonic chain of unit rest length written into `f`, the potential energy
/// returned, as molecular-dynamics force routines are written (Allen and Tildesley, §3.2 and
/// §5.1): `f` zeroed, then each bond adds its pair of forces.
#[differentiate(reverse, forward, hessian)]
fn chain_forces(x: &[f64], k: f64, f: &mut [f64]) -> f64 {
    let n = x.len();
    let mut energy = 0.0;
    f.fill(0.0);
    for i in 0..n - 1 {
        let d = x[i + 1] - x[i] - 1.0;
        energy += 0.5 * k * d * d;
        f[i] += k * d;
        f[i + 1] -= k * d;
    }
    energy
}

/// The kinetic energy after five velocity Verlet steps (Swope et al., J. Chem. Phys. 1982), the
/// force routine called as a statement, its energy unused.
#[differentiate(reverse, forward, hessian)]
fn verlet_kinetic(x0: &[f64], v0: &[f64], k: f64, h: f64) -> f64 {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut v = v0.to_vec();
    let mut f = vec![0.0; n];
    chain_forces(&x, k, &mut f);
    for _ in 0..5 {
        for i in 0..n {
            v[i] += 0.5 * h * f[i];
            x[i] += h * v[i];
        }
        chain_forces(&x, k, &mut f);
        for i in 0..n {
            v[i] += 0.5 * h * f[i];
        }
    }
    let mut kinetic = 0.0;
    for i in 0..n {
        kinetic += 0.5 * v[i] * v[i];
    }
    kinetic
}

#[test]
fn velocity_verlet_through_a_force_routine() {
    let x = [0.0, 1.2, 1.9, 3.3];
    let k = 2.0;
    // The force routine's VJP with seeds on both outputs: w·f + s·E.
    let w = [0.3, -0.2, 0.5, 0.1];
    let s = 0.7;
    let (mut d_x, mut f, mut d_f) = (vec![0.0; 4], vec![0.0; 4], w.to_vec());
    let (energy, d_k) = chain_forces_vjp_into(&x, &mut d_x, k, &mut f, &mut d_f, s);
    let mut f2 = vec![0.0; 4];
    assert_eq!(energy, chain_forces(&x, k, &mut f2));
    assert_eq!(f, f2);
    // The forces are minus the energy's gradient, so w·f + s·E has gradient −H w + s ∇E:
    // for the chain, ∂fᵢ/∂xⱼ is k times the graph Laplacian's −Lᵢⱼ.
    let lap = [
        [1.0, -1.0, 0.0, 0.0],
        [-1.0, 2.0, -1.0, 0.0],
        [0.0, -1.0, 2.0, -1.0],
        [0.0, 0.0, -1.0, 1.0],
    ];
    let want: Vec<f64> = (0..4)
        .map(|j| -k * dot(&w, &[lap[0][j], lap[1][j], lap[2][j], lap[3][j]]) - s * f[j])
        .collect();
    assert_near("forces vjp", &d_x, &want, 1e-12);
    // ∂/∂k: w·f/k + s·E/k.
    assert_near(
        "forces vjp k",
        &[d_k],
        &[(dot(&w, &f) + s * energy) / k],
        1e-12,
    );
    // The trajectory: gradient against differences, Hessian against differences of it.
    let v0 = [0.1, -0.2, 0.05, 0.3];
    let mut p = x.to_vec();
    p.extend_from_slice(&v0);
    p.extend_from_slice(&[k, 0.1]);
    let run = |q: &[f64]| verlet_kinetic(&q[..4], &q[4..8], q[8], q[9]);
    let grad = |q: &[f64]| {
        let (_, mut g, gv, gk, gh) = verlet_kinetic_grad(&q[..4], &q[4..8], q[8], q[9]);
        g.extend_from_slice(&gv);
        g.extend_from_slice(&[gk, gh]);
        g
    };
    assert_near(
        "verlet grad",
        &grad(&p),
        &common::oracles::fd_gradient(run, &p),
        FD,
    );
    let (value, _, _, _, _, hess) = verlet_kinetic_hessian(&x, &v0, k, 0.1);
    assert_eq!(value, run(&p));
    common::oracles::check_hessian("verlet hessian", &hess, grad, &p);
}

// ---------------------------------------------------------------------------------------------
// 19. Hodgkin–Huxley: a neuron's right-hand side and its Jacobian
// ---------------------------------------------------------------------------------------------

/// The Hodgkin–Huxley equations in the modern sign convention, millivolts and milliseconds
/// (Dayan and Abbott, *Theoretical Neuroscience*, §5.6): `y = [V, m, h, n]`, `i_ext` the
/// injected current per unit area.
#[differentiate(reverse, forward, hessian)]
fn hodgkin_huxley(y: [f64; 4], i_ext: f64) -> [f64; 4] {
    let [v, m, h, n] = y;
    let alpha_m = 0.1 * (v + 40.0) / (1.0 - (-(v + 40.0) / 10.0).exp());
    let beta_m = 4.0 * (-(v + 65.0) / 18.0).exp();
    let alpha_h = 0.07 * (-(v + 65.0) / 20.0).exp();
    let beta_h = 1.0 / (1.0 + (-(v + 35.0) / 10.0).exp());
    let alpha_n = 0.01 * (v + 55.0) / (1.0 - (-(v + 55.0) / 10.0).exp());
    let beta_n = 0.125 * (-(v + 65.0) / 80.0).exp();
    let i_na = 120.0 * m.powi(3) * h * (v - 50.0);
    let i_k = 36.0 * n.powi(4) * (v + 77.0);
    let i_l = 0.3 * (v + 54.387);
    [
        i_ext - i_na - i_k - i_l,
        alpha_m * (1.0 - m) - beta_m * m,
        alpha_h * (1.0 - h) - beta_h * h,
        alpha_n * (1.0 - n) - beta_n * n,
    ]
}

fn hodgkin_huxley_flat(q: &[f64]) -> Vec<f64> {
    hodgkin_huxley([q[0], q[1], q[2], q[3]], q[4]).to_vec()
}

#[test]
fn hodgkin_huxley_jacobian_against_differences() {
    // At rest, during the upstroke and during repolarisation.
    for q in [
        [-65.0, 0.053, 0.596, 0.3177, 0.0],
        [-30.0, 0.4, 0.45, 0.4, 10.0],
        [20.0, 0.9, 0.1, 0.7, 10.0],
    ] {
        let y = [q[0], q[1], q[2], q[3]];
        let (dy, jac) = hodgkin_huxley_jacobian(y, q[4]);
        assert_eq!(dy.to_vec(), hodgkin_huxley_flat(&q));
        let want = fd_jacobian(hodgkin_huxley_flat, &q);
        for i in 0..4 {
            assert_near("hodgkin-huxley jacobian", &jac[i], &want[i], FD);
        }
        // The membrane equation's gating columns by hand, and ∂/∂I = e₀.
        let (v, m, h, n) = (q[0], q[1], q[2], q[3]);
        let by_hand = [
            -120.0 * 3.0 * m * m * h * (v - 50.0),
            -120.0 * m.powi(3) * (v - 50.0),
            -36.0 * 4.0 * n.powi(3) * (v + 77.0),
            1.0,
        ];
        assert_near(
            "hodgkin-huxley dV'",
            &[jac[0][1], jac[0][2], jac[0][3], jac[0][4]],
            &by_hand,
            EXACT,
        );
        assert_eq!([jac[1][4], jac[2][4], jac[3][4]], [0.0; 3]);
        // The gates do not couple: ∂ṁ/∂h = ∂ṁ/∂n = 0, and so on.
        assert_eq!(
            [
                jac[1][2], jac[1][3], jac[2][1], jac[2][3], jac[3][1], jac[3][2]
            ],
            [0.0; 6]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 20. Misra1a again, as a problem struct whose method calls the residual vector
// ---------------------------------------------------------------------------------------------

/// The residuals of section 7 for data of any length, taken as slices. The data are active
/// too: with `wrt(b)` here the call in [`ExponentialFit::cost`] fails to compile, since a
/// caller cannot see a callee's `wrt` (README, "Known limitations of calls").
#[differentiate(reverse, forward, hessian)]
fn exponential_residuals(b: [f64; 2], x: &[f64], y: &[f64]) -> [f64; 14] {
    let mut r = [0.0; 14];
    for i in 0..14 {
        r[i] = y[i] - b[0] * (1.0 - (-b[1] * x[i]).exp());
    }
    r
}

/// A least-squares problem holding its data, as a Ceres `CostFunction` functor or a SciPy
/// `least_squares` closure holds it; the cost is half the squared residuals.
struct ExponentialFit {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl ExponentialFit {
    #[differentiate(reverse, forward, hessian)]
    fn cost(&self, b: [f64; 2]) -> f64 {
        // Typed: read at a loop's `r[i]`, an untyped `r` is a compile error asking for it.
        let r: [f64; 14] = exponential_residuals(b, &self.x, &self.y);
        let mut s = 0.0;
        for i in 0..14 {
            s += r[i] * r[i];
        }
        0.5 * s
    }
}

#[test]
fn misra1a_full_newton_through_a_method() {
    let problem = ExponentialFit {
        x: MISRA1A_X.to_vec(),
        y: MISRA1A_Y.to_vec(),
    };
    // Full Newton from close to the solution (the Gauss–Newton run of section 7 gets there
    // from NIST's start): the cost's Hessian includes the residuals' second derivatives.
    let mut b = [240.0, 5.4e-4];
    for _ in 0..20 {
        let (c, g, h) = problem.cost_hessian(b);
        assert_eq!(c, problem.cost(b));
        // Against differences of the gradient, in variables scaled to their size.
        let scale = [100.0, 1.0e-4];
        let grad = |q: &[f64]| {
            let (_, g) = problem.cost_grad([q[0] * scale[0], q[1] * scale[1]]);
            vec![g[0] * scale[0], g[1] * scale[1]]
        };
        let hs: Vec<f64> = (0..4)
            .map(|k| h[k / 2][k % 2] * scale[k / 2] * scale[k % 2])
            .collect();
        common::oracles::check_hessian(
            "misra1a cost hessian",
            &hs,
            grad,
            &[b[0] / scale[0], b[1] / scale[1]],
        );
        let hf: Vec<f64> = h.iter().flatten().copied().collect();
        let step = solve(&hf, &g);
        b[0] -= step[0];
        b[1] -= step[1];
    }
    assert!((b[0] / 2.389_421_291_8e2 - 1.0).abs() < 1e-9, "{b:?}");
    assert!((b[1] / 5.501_564_318_1e-4 - 1.0).abs() < 1e-9, "{b:?}");
    let (_, t) = problem.cost_jvp([240.0, 5.4e-4], [1.0, 0.0]);
    let (_, g) = problem.cost_grad([240.0, 5.4e-4]);
    assert_near("misra1a cost jvp", &[t], &[g[0]], 1e-12);
}

/// The bundle-adjustment cost over every observation: half the squared reprojection errors plus
/// the weight terms, the cameras and points picked by index (`obs`), for Newton's method on the
/// whole problem (`f_hessian` through the reprojection error's `_hvp`).
#[differentiate(reverse, hessian, wrt(cams, x, w))]
fn ba_cost(cams: &[f64], x: &[f64], w: &[f64], obs: &[usize], feats: &[f64]) -> f64 {
    let mut cost = 0.0;
    for i in 0..w.len() {
        let c = obs[2 * i];
        let p = obs[2 * i + 1];
        let [ex, ey] = compute_reproj_error(
            &cams[c * 11..(c + 1) * 11],
            &x[p * 3..(p + 1) * 3],
            w[i],
            &feats[2 * i..2 * i + 2],
        );
        let ew = compute_zach_weight_error(w[i]);
        cost += 0.5 * (ex * ex + ey * ey + ew * ew);
    }
    cost
}

#[test]
fn bundle_adjustment_total_cost_hessian() {
    let ba = ba_problem();
    let (nc, nx) = (ba.cams.len(), ba.x.len());
    let p = ba.flat();
    let grad = |q: &[f64]| {
        let (_, mut g, gx, gw) =
            ba_cost_grad(&q[..nc], &q[nc..nc + nx], &q[nc + nx..], &ba.obs, &ba.feats);
        g.extend_from_slice(&gx);
        g.extend_from_slice(&gw);
        g
    };
    let cost = |q: &[f64]| ba_cost(&q[..nc], &q[nc..nc + nx], &q[nc + nx..], &ba.obs, &ba.feats);
    assert_near(
        "ba total grad",
        &grad(&p),
        &common::oracles::fd_gradient(cost, &p),
        FD,
    );
    // The gradient is Jᵀr of the residuals `ba_objective` writes.
    let r = ba.residuals(&ba.cams, &ba.x, &ba.w);
    let (mut d_cams, mut d_x, mut d_w) = (vec![0.0; nc], vec![0.0; nx], vec![0.0; ba.w.len()]);
    let (mut out_r, mut out_w) = (vec![0.0; 8], vec![0.0; 4]);
    let (mut seed_r, mut seed_w) = (r[..8].to_vec(), r[8..].to_vec());
    ba_objective_vjp_into(
        &ba.cams,
        &mut d_cams,
        &ba.x,
        &mut d_x,
        &ba.w,
        &mut d_w,
        &ba.obs,
        &ba.feats,
        &mut out_r,
        &mut seed_r,
        &mut out_w,
        &mut seed_w,
    );
    let mut jtr = d_cams.clone();
    jtr.extend_from_slice(&d_x);
    jtr.extend_from_slice(&d_w);
    assert_near("ba total grad is Jᵀr", &grad(&p), &jtr, 1e-10);
    let (value, _, _, _, hess) = ba_cost_hessian(&ba.cams, &ba.x, &ba.w, &ba.obs, &ba.feats);
    assert_eq!(value, cost(&p));
    common::oracles::check_hessian("ba total hessian", &hess, grad, &p);
}

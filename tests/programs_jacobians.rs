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
//!   2 × 15 Jacobian with respect to the camera (11), the point (3) and the weight;
#![allow(
    // Dimensions and indices as `f64`, as the definitions read them; they are small.
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    // Differentiated loops index their arrays, as the published versions do.
    clippy::needless_range_loop,
    clippy::type_complexity,
    // `if x != 0.0 { .. } else { .. }`, as the published code reads.
    clippy::if_not_else
)]

use autodiff::differentiate;

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::oracles::{FD, assert_near, direction, dot, fd_jacobian};

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

/// The weighted reprojection error of one observation. Every slice is active, `feat` too: a
/// caller that leaves some out of its own `wrt` still passes them (see [`reproj_error_wrt`]).
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
        let e: [f64; 2] = compute_reproj_error(
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

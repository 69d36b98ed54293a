//! Several outputs: the Jacobian contenders, shared by the report (`examples/bench_jacobian.rs`)
//! and the agreement test (`tests/bench_jacobian.rs`).
//!
//! Four vector functions as their users write them, at (outputs, inputs) = (2, 3), (10, 10),
//! (100, 6) and (2, 15): a planar three-link arm's end-effector position (robot kinematics), the
//! Lorenz-96 system's right-hand side (an ODE for a stiff solver), the residuals of a damped
//! oscillation fitted to 100 points (least squares), and `ADBench`'s bundle-adjustment
//! reprojection error (a camera, a point and a weight; its hand-written Jacobian is `ADBench`'s
//! "Manual"). Against `f_jacobian`: the Jacobian written by hand, in the
//! same form (a fixed-size `[[f64; N]; M]`, filled in one pass), and `num-dual`'s `jacobian`
//! (vector dual numbers, one forward pass carrying all N directions), over the same body made
//! generic over [`DualNum`].

// Used by the report and its test, not by every target that includes the shared code.
#![allow(dead_code)]
// Numerical code indexes its arrays, as the published definitions do.
#![allow(clippy::needless_range_loop)]
// Rodrigues' rotation tests for a nonzero angle first, as `ADBench` writes it.
#![allow(clippy::if_not_else)]

use autodiff::differentiate;
use nalgebra::SVector;
use num_dual::{DualNum, DualSVec64, jacobian};

/// The lengths of the arm's three links.
pub const L1: f64 = 1.0;
pub const L2: f64 = 0.8;
pub const L3: f64 = 0.5;

/// The position of a planar three-link arm's tip for joint angles `q`, each relative to the
/// previous link.
#[differentiate(reverse, forward)]
pub fn arm(q: [f64; 3]) -> [f64; 2] {
    let a1 = q[0];
    let a2 = a1 + q[1];
    let a3 = a2 + q[2];
    [
        L1 * a1.cos() + L2 * a2.cos() + L3 * a3.cos(),
        L1 * a1.sin() + L2 * a2.sin() + L3 * a3.sin(),
    ]
}

/// `arm`'s value and Jacobian by hand: the six sines and cosines once, each entry a partial sum.
#[must_use]
pub fn arm_by_hand(q: [f64; 3]) -> ([f64; 2], [[f64; 3]; 2]) {
    let a1 = q[0];
    let a2 = a1 + q[1];
    let a3 = a2 + q[2];
    let (s1, c1) = a1.sin_cos();
    let (s2, c2) = a2.sin_cos();
    let (s3, c3) = a3.sin_cos();
    let (x3, y3) = (L3 * c3, L3 * s3);
    let (x2, y2) = (L2 * c2 + x3, L2 * s2 + y3);
    let (x, y) = (L1 * c1 + x2, L1 * s1 + y2);
    ([x, y], [[-y, -y2, -y3], [x, x2, x3]])
}

/// `arm` over dual numbers.
fn arm_generic<D: DualNum<Primitive = f64> + Copy>(q: [D; 3]) -> [D; 2] {
    let a1 = q[0];
    let a2 = a1 + q[1];
    let a3 = a2 + q[2];
    [
        a1.cos() * L1 + a2.cos() * L2 + a3.cos() * L3,
        a1.sin() * L1 + a2.sin() * L2 + a3.sin() * L3,
    ]
}

/// `arm`'s value and Jacobian by `num_dual::jacobian`.
#[must_use]
pub fn arm_num_dual(q: [f64; 3]) -> ([f64; 2], [[f64; 3]; 2]) {
    let (value, jac) = jacobian(
        |q: SVector<DualSVec64<3>, 3>| SVector::from(arm_generic([q[0], q[1], q[2]])),
        &SVector::from(q),
    );
    (value.into(), jac.transpose().into())
}

/// The number of variables of the Lorenz-96 system.
pub const LORENZ_N: usize = 10;
/// Its forcing, at which it is chaotic.
pub const FORCING: f64 = 8.0;

/// The Lorenz-96 system's right-hand side, `dxᵢ/dt = (xᵢ₊₁ − xᵢ₋₂) xᵢ₋₁ − xᵢ + F`, indices
/// cyclic.
#[differentiate(reverse, forward)]
pub fn lorenz96(x: [f64; LORENZ_N]) -> [f64; LORENZ_N] {
    let mut dx = [0.0; LORENZ_N];
    for i in 0..LORENZ_N {
        let next = x[(i + 1) % LORENZ_N];
        let back2 = x[(i + LORENZ_N - 2) % LORENZ_N];
        let back1 = x[(i + LORENZ_N - 1) % LORENZ_N];
        dx[i] = (next - back2) * back1 - x[i] + FORCING;
    }
    dx
}

/// `lorenz96`'s value and Jacobian by hand: four entries a row.
#[must_use]
pub fn lorenz96_by_hand(x: [f64; LORENZ_N]) -> ([f64; LORENZ_N], [[f64; LORENZ_N]; LORENZ_N]) {
    let mut dx = [0.0; LORENZ_N];
    let mut jac = [[0.0; LORENZ_N]; LORENZ_N];
    for i in 0..LORENZ_N {
        let (up, down2, down1) = (
            (i + 1) % LORENZ_N,
            (i + LORENZ_N - 2) % LORENZ_N,
            (i + LORENZ_N - 1) % LORENZ_N,
        );
        dx[i] = (x[up] - x[down2]) * x[down1] - x[i] + FORCING;
        jac[i][up] += x[down1];
        jac[i][down2] -= x[down1];
        jac[i][down1] += x[up] - x[down2];
        jac[i][i] -= 1.0;
    }
    (dx, jac)
}

fn lorenz96_generic<D: DualNum<Primitive = f64> + Copy>(x: &[D]) -> [D; LORENZ_N] {
    let mut dx = [D::zero(); LORENZ_N];
    for i in 0..LORENZ_N {
        let next = x[(i + 1) % LORENZ_N];
        let back2 = x[(i + LORENZ_N - 2) % LORENZ_N];
        let back1 = x[(i + LORENZ_N - 1) % LORENZ_N];
        dx[i] = (next - back2) * back1 - x[i] + FORCING;
    }
    dx
}

/// `lorenz96`'s value and Jacobian by `num_dual::jacobian`.
#[must_use]
pub fn lorenz96_num_dual(x: [f64; LORENZ_N]) -> ([f64; LORENZ_N], [[f64; LORENZ_N]; LORENZ_N]) {
    let (value, jac) = jacobian(
        |x: SVector<DualSVec64<LORENZ_N>, LORENZ_N>| SVector::from(lorenz96_generic(x.as_slice())),
        &SVector::from(x),
    );
    (value.into(), jac.transpose().into())
}

/// The number of data points of the fit.
pub const POINTS: usize = 100;

/// The residuals `a e^{−k t} cos(ω t + φ) + b + c t − y` of a damped oscillation with
/// parameters `p = (a, k, ω, φ, b, c)` at the data points.
#[differentiate(reverse, forward, wrt(p))]
pub fn oscillation(p: [f64; 6], t: &[f64; POINTS], y: &[f64; POINTS]) -> [f64; POINTS] {
    let mut r = [0.0; POINTS];
    for i in 0..POINTS {
        let decay = (-p[1] * t[i]).exp();
        let wave = (p[2] * t[i] + p[3]).cos();
        r[i] = p[0] * decay * wave + p[4] + p[5] * t[i] - y[i];
    }
    r
}

/// `oscillation`'s value and Jacobian by hand: one exponential, sine and cosine a point.
#[must_use]
pub fn oscillation_by_hand(
    p: [f64; 6],
    t: &[f64; POINTS],
    y: &[f64; POINTS],
) -> ([f64; POINTS], [[f64; 6]; POINTS]) {
    let mut r = [0.0; POINTS];
    let mut jac = [[0.0; 6]; POINTS];
    for i in 0..POINTS {
        let decay = (-p[1] * t[i]).exp();
        let (sin, cos) = (p[2] * t[i] + p[3]).sin_cos();
        let envelope = decay * cos;
        let amplitude = p[0] * decay;
        r[i] = p[0] * envelope + p[4] + p[5] * t[i] - y[i];
        jac[i] = [
            envelope,
            -t[i] * p[0] * envelope,
            -amplitude * sin * t[i],
            -amplitude * sin,
            1.0,
            t[i],
        ];
    }
    (r, jac)
}

fn oscillation_generic<D: DualNum<Primitive = f64> + Copy>(
    p: &[D],
    t: &[f64; POINTS],
    y: &[f64; POINTS],
) -> [D; POINTS] {
    let mut r = [D::zero(); POINTS];
    for i in 0..POINTS {
        let decay = (-p[1] * t[i]).exp();
        let wave = (p[2] * t[i] + p[3]).cos();
        r[i] = p[0] * decay * wave + p[4] + p[5] * t[i] - y[i];
    }
    r
}

/// `oscillation`'s value and Jacobian by `num_dual::jacobian`.
#[must_use]
pub fn oscillation_num_dual(
    p: [f64; 6],
    t: &[f64; POINTS],
    y: &[f64; POINTS],
) -> ([f64; POINTS], [[f64; 6]; POINTS]) {
    let (value, jac) = jacobian(
        |p: SVector<DualSVec64<6>, 6>| SVector::from(oscillation_generic(p.as_slice(), t, y)),
        &SVector::from(p),
    );
    let mut rows = [[0.0; 6]; POINTS];
    for (i, row) in rows.iter_mut().enumerate() {
        for (j, entry) in row.iter_mut().enumerate() {
            *entry = jac[(i, j)];
        }
    }
    (value.into(), rows)
}

/// The fit's data: 100 times on `[0, 10)` and a damped oscillation with noise, deterministic.
#[must_use]
pub fn oscillation_data() -> ([f64; POINTS], [f64; POINTS]) {
    let mut rng = super::Rng::new(17);
    let mut t = [0.0; POINTS];
    let mut y = [0.0; POINTS];
    let mut time = 0.0;
    for i in 0..POINTS {
        t[i] = time;
        time += 0.1;
        y[i] = 2.0 * (-0.3 * t[i]).exp() * (1.7 * t[i] + 0.4).cos() + 0.1 - 0.02 * t[i]
            + 0.05 * rng.normal();
    }
    (t, y)
}

/// A point of each function: joint angles, a state of the system, parameters of the fit.
#[must_use]
pub fn points() -> ([f64; 3], [f64; LORENZ_N], [f64; 6]) {
    let mut rng = super::Rng::new(23);
    let q = [0.3, -0.8, 1.1];
    let mut x = [0.0; LORENZ_N];
    for v in &mut x {
        *v = FORCING + rng.uniform(-1.0, 1.0);
    }
    let p = [1.8, 0.25, 1.6, 0.3, 0.05, -0.01];
    (q, x, p)
}

/// The cross product `a × b`.
#[differentiate(reverse, forward)]
pub fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// `pt` rotated by the Rodrigues (angle-axis) vector `rot`, as Ceres evaluates it; at a zero
/// angle, the first-order form `pt + rot × pt`.
#[differentiate(reverse, forward)]
pub fn rodrigues_rotate_point(rot: [f64; 3], pt: [f64; 3]) -> [f64; 3] {
    let sqtheta = rot[0] * rot[0] + rot[1] * rot[1] + rot[2] * rot[2];
    if sqtheta != 0.0 {
        let theta = sqtheta.sqrt();
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let theta_inverse = 1.0 / theta;
        let w = [
            rot[0] * theta_inverse,
            rot[1] * theta_inverse,
            rot[2] * theta_inverse,
        ];
        let [wx0, wx1, wx2] = cross(w, pt);
        let tmp = (w[0] * pt[0] + w[1] * pt[1] + w[2] * pt[2]) * (1.0 - costheta);
        [
            pt[0] * costheta + wx0 * sintheta + w[0] * tmp,
            pt[1] * costheta + wx1 * sintheta + w[1] * tmp,
            pt[2] * costheta + wx2 * sintheta + w[2] * tmp,
        ]
    } else {
        let [rx0, rx1, rx2] = cross(rot, pt);
        [pt[0] + rx0, pt[1] + rx1, pt[2] + rx2]
    }
}

/// `proj` scaled by the radial distortion `1 + k₁ r² + k₂ r⁴`.
#[differentiate(reverse, forward)]
pub fn radial_distort(rad_params: [f64; 2], proj: [f64; 2]) -> [f64; 2] {
    let rsq = proj[0] * proj[0] + proj[1] * proj[1];
    let l = 1.0 + rad_params[0] * rsq + rad_params[1] * rsq * rsq;
    [proj[0] * l, proj[1] * l]
}

/// The image of the point `x` in the camera `cam`: rotated about the centre, divided by depth,
/// distorted, scaled by the focal length and shifted to the principal point.
#[differentiate(reverse, forward)]
pub fn project(cam: [f64; 11], x: [f64; 3]) -> [f64; 2] {
    let xo = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let rot = [cam[0], cam[1], cam[2]];
    let [xc0, xc1, xc2] = rodrigues_rotate_point(rot, xo);
    let proj = [xc0 / xc2, xc1 / xc2];
    let rad_params = [cam[9], cam[10]];
    let [d0, d1] = radial_distort(rad_params, proj);
    [d0 * cam[6] + cam[7], d1 * cam[6] + cam[8]]
}

/// The weighted reprojection error of bundle adjustment (`ADBench`'s `computeReprojError`):
/// camera `cam` = (Rodrigues rotation, centre, focal length, principal point, two radial
/// distortion coefficients), point `x`, weight `w`, observed feature `feat`.
#[differentiate(reverse, forward, wrt(cam, x, w))]
pub fn ba_reproj(cam: [f64; 11], x: [f64; 3], w: f64, feat: &[f64; 2]) -> [f64; 2] {
    let [p0, p1] = project(cam, x);
    [w * (p0 - feat[0]), w * (p1 - feat[1])]
}

/// The number of active inputs of `ba_reproj`: 11 camera parameters, a point, a weight.
pub const BA_N: usize = 15;

/// `out (n × p) = x (n × m) · y (m × p)`, matrices stored column-major.
fn mat_mul(n: usize, m: usize, p: usize, x: &[f64], y: &[f64], out: &mut [f64]) {
    for i in 0..n {
        for j in 0..p {
            let mut rij = 0.0;
            for k in 0..m {
                rij += x[k * n + i] * y[j * m + k];
            }
            out[j * n + i] = rij;
        }
    }
}

/// The matrix `[v]×` of the cross product with `v`, column-major.
fn set_cross_mat(v: &[f64; 3]) -> [f64; 9] {
    [0.0, v[2], -v[1], -v[2], 0.0, v[0], v[1], -v[0], 0.0]
}

fn cross_by_hand(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot3(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// `rodrigues_rotate_point` and its 3 × 3 Jacobians with respect to `rot` and `x`, column-major.
fn rodrigues_rotate_point_by_hand(rot: &[f64; 3], x: &[f64; 3]) -> ([f64; 3], [f64; 9], [f64; 9]) {
    let mut rotated = [0.0; 3];
    let mut rot_d = [0.0; 9];
    let mut x_d;
    let sqtheta = dot3(rot, rot);
    if sqtheta != 0.0 {
        let theta = sqtheta.sqrt();
        let (sintheta, costheta) = theta.sin_cos();
        let theta_inverse = 1.0 / theta;
        let w = rot.map(|r| r * theta_inverse);
        // ∂w/∂rot = (I − w wᵀ) / θ.
        let mut tmp_d = w.map(|v| -theta_inverse * theta_inverse * v);
        let mut w_d = [0.0; 9];
        mat_mul(3, 1, 3, rot, &tmp_d, &mut w_d);
        for i in 0..3 {
            w_d[i * 3 + i] += theta_inverse;
        }
        let w_cross_x = cross_by_hand(&w, x);
        let w_dot_x = dot3(&w, x);
        let tmp = (1.0 - costheta) * w_dot_x;
        // ∂tmp/∂rot.
        let x_scaled = x.map(|v| (1.0 - costheta) * v);
        mat_mul(1, 3, 3, &x_scaled, &w_d, &mut tmp_d);
        for i in 0..3 {
            tmp_d[i] += w_dot_x * sintheta * w[i];
        }
        for i in 0..3 {
            rotated[i] = costheta * x[i] + sintheta * w_cross_x[i] + tmp * w[i];
        }
        let mut m = set_cross_mat(x);
        for v in &mut m {
            *v *= -sintheta;
        }
        for i in 0..3 {
            m[i * 3 + i] = tmp;
        }
        let acc: [f64; 3] = std::array::from_fn(|i| costheta * w_cross_x[i] - sintheta * x[i]);
        mat_mul(3, 1, 3, &acc, &w, &mut rot_d);
        let mut accm = [0.0; 9];
        mat_mul(3, 3, 3, &m, &w_d, &mut accm);
        for i in 0..9 {
            rot_d[i] += accm[i];
        }
        mat_mul(3, 1, 3, &w, &tmp_d, &mut accm);
        for i in 0..9 {
            rot_d[i] += accm[i];
        }
        x_d = set_cross_mat(&w);
        for v in &mut x_d {
            *v *= sintheta;
        }
        let acc = w.map(|v| (1.0 - costheta) * v);
        mat_mul(3, 1, 3, &acc, &w, &mut accm);
        for i in 0..9 {
            x_d[i] += accm[i];
        }
        for i in 0..3 {
            x_d[i * 3 + i] += costheta;
        }
    } else {
        rot_d = set_cross_mat(x).map(|v| -v);
        x_d = set_cross_mat(rot);
        mat_mul(3, 3, 1, &x_d, x, &mut rotated);
        for i in 0..3 {
            rotated[i] += x[i];
            x_d[i * 3 + i] += 1.0;
        }
    }
    (rotated, rot_d, x_d)
}

/// `radial_distort` and its 2 × 2 Jacobians with respect to `proj` and the coefficients,
/// column-major.
fn radial_distort_by_hand(rad: &[f64; 2], proj: &[f64; 2]) -> ([f64; 2], [f64; 4], [f64; 4]) {
    let rsq = proj[0] * proj[0] + proj[1] * proj[1];
    let l = 1.0 + rad[0] * rsq + rad[1] * rsq * rsq;
    let coef = 2.0 * rad[0] + 4.0 * rad[1] * rsq;
    let proj_d = [
        coef * proj[0] * proj[0] + l,
        coef * proj[1] * proj[0],
        coef * proj[0] * proj[1],
        coef * proj[1] * proj[1] + l,
    ];
    let rad_d = [
        rsq * proj[0],
        rsq * proj[1],
        rsq * (rsq * proj[0]),
        rsq * (rsq * proj[1]),
    ];
    ([proj[0] * l, proj[1] * l], proj_d, rad_d)
}

/// `ba_reproj`'s value and Jacobian by hand, as `ADBench`'s "Manual" computes it (`ba_d.cpp`):
/// the Jacobians of the rotation, the division by depth and the distortion, chained by 2 × 3
/// and 3 × 3 products.
#[must_use]
pub fn ba_reproj_by_hand(
    cam: [f64; 11],
    x: [f64; 3],
    w: f64,
    feat: &[f64; 2],
) -> ([f64; 2], [[f64; BA_N]; 2]) {
    // 2 × 15, column-major.
    let mut j = [0.0; 2 * BA_N];
    let xo = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let (xcam, rodri_rot_d, rodri_xo_d) =
        rodrigues_rotate_point_by_hand(&[cam[0], cam[1], cam[2]], &xo);
    let hnorm = [xcam[0] / xcam[2], xcam[1] / xcam[2]];
    let (proj, distort_proj_d, distort_rad_d) = radial_distort_by_hand(&[cam[9], cam[10]], &hnorm);
    let tmp = 1.0 / (xcam[2] * xcam[2]);
    let right = [-xcam[0] * tmp, -xcam[1] * tmp];
    // ∂distorted/∂xcam, 2 × 3.
    let mut distort_hnorm_d = [0.0; 6];
    for i in 0..4 {
        distort_hnorm_d[i] = distort_proj_d[i] / xcam[2];
    }
    distort_hnorm_d[4] = distort_proj_d[0] * right[0] + distort_proj_d[2] * right[1];
    distort_hnorm_d[5] = distort_proj_d[1] * right[0] + distort_proj_d[3] * right[1];
    let f = cam[6];
    mat_mul(2, 3, 3, &distort_hnorm_d, &rodri_rot_d, &mut j[0..6]);
    for v in &mut j[0..6] {
        *v *= f;
    }
    mat_mul(2, 3, 3, &distort_hnorm_d, &rodri_xo_d, &mut j[6..12]);
    for v in &mut j[6..12] {
        *v *= -f;
    }
    j[12] = proj[0];
    j[13] = proj[1];
    j[14] = 1.0;
    j[17] = 1.0;
    for i in 0..4 {
        j[18 + i] = distort_rad_d[i] * f;
    }
    for i in 0..6 {
        j[22 + i] = -j[6 + i];
    }
    let residual = [
        proj[0] * f + cam[7] - feat[0],
        proj[1] * f + cam[8] - feat[1],
    ];
    j[28] = residual[0];
    j[29] = residual[1];
    for v in &mut j[0..28] {
        *v *= w;
    }
    let mut jac = [[0.0; BA_N]; 2];
    for (col, pair) in j.chunks_exact(2).enumerate() {
        jac[0][col] = pair[0];
        jac[1][col] = pair[1];
    }
    ([w * residual[0], w * residual[1]], jac)
}

fn cross_generic<D: DualNum<Primitive = f64> + Copy>(a: [D; 3], b: [D; 3]) -> [D; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn rodrigues_rotate_point_generic<D: DualNum<Primitive = f64> + Copy>(
    rot: [D; 3],
    pt: [D; 3],
) -> [D; 3] {
    let sqtheta = rot[0] * rot[0] + rot[1] * rot[1] + rot[2] * rot[2];
    if sqtheta.re() != 0.0 {
        let theta = sqtheta.sqrt();
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let theta_inverse = theta.recip();
        let w = [
            rot[0] * theta_inverse,
            rot[1] * theta_inverse,
            rot[2] * theta_inverse,
        ];
        let w_cross_pt = cross_generic(w, pt);
        let tmp = (w[0] * pt[0] + w[1] * pt[1] + w[2] * pt[2]) * (-costheta + 1.0);
        std::array::from_fn(|i| pt[i] * costheta + w_cross_pt[i] * sintheta + w[i] * tmp)
    } else {
        let rot_cross_pt = cross_generic(rot, pt);
        std::array::from_fn(|i| pt[i] + rot_cross_pt[i])
    }
}

fn ba_reproj_generic<D: DualNum<Primitive = f64> + Copy>(p: &[D], feat: &[f64; 2]) -> [D; 2] {
    let (cam, x, w) = (&p[0..11], &p[11..14], p[14]);
    let xo = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let xcam = rodrigues_rotate_point_generic([cam[0], cam[1], cam[2]], xo);
    let proj = [xcam[0] / xcam[2], xcam[1] / xcam[2]];
    let rsq = proj[0] * proj[0] + proj[1] * proj[1];
    let l = cam[9] * rsq + cam[10] * rsq * rsq + 1.0;
    let proj = [proj[0] * l, proj[1] * l];
    let proj = [proj[0] * cam[6] + cam[7], proj[1] * cam[6] + cam[8]];
    [w * (proj[0] - feat[0]), w * (proj[1] - feat[1])]
}

/// `cam`, `x` and `w` as one vector of `BA_N` floats.
#[must_use]
pub fn ba_flatten(cam: [f64; 11], x: [f64; 3], w: f64) -> [f64; BA_N] {
    let mut p = [0.0; BA_N];
    p[..11].copy_from_slice(&cam);
    p[11..14].copy_from_slice(&x);
    p[14] = w;
    p
}

/// `ba_reproj`'s value and Jacobian by `num_dual::jacobian`.
#[must_use]
pub fn ba_reproj_num_dual(
    cam: [f64; 11],
    x: [f64; 3],
    w: f64,
    feat: &[f64; 2],
) -> ([f64; 2], [[f64; BA_N]; 2]) {
    let (value, jac) = jacobian(
        |p: SVector<DualSVec64<BA_N>, BA_N>| SVector::from(ba_reproj_generic(p.as_slice(), feat)),
        &SVector::from(ba_flatten(cam, x, w)),
    );
    let mut rows = [[0.0; BA_N]; 2];
    for (i, row) in rows.iter_mut().enumerate() {
        for (j, entry) in row.iter_mut().enumerate() {
            *entry = jac[(i, j)];
        }
    }
    (value.into(), rows)
}

/// A bundle-adjustment observation: camera, point, weight, feature.
pub type BaObservation = ([f64; 11], [f64; 3], f64, [f64; 2]);

/// The observation of `ADBench`'s `data/ba` files (each repeats one camera, point, weight
/// and feature), and the same with a zero rotation, which takes Rodrigues' first-order branch.
#[must_use]
pub fn ba_observations() -> [BaObservation; 2] {
    let cam = [
        -0.758_453,
        -1.109_613,
        -0.845_551,
        34.556_073,
        39.676_747,
        53.881_673,
        419.194_514,
        5.864_426,
        -8.518_870,
        0.087_812,
        0.002_739,
    ];
    let x = [7.203_245, 0.001_144, 3.023_326];
    let (w, feat) = (0.417_022, [271.760_969, 834.209_256]);
    let mut unrotated = cam;
    unrotated[..3].fill(0.0);
    [(cam, x, w, feat), (unrotated, x, w, feat)]
}

/// `ba_reproj` in one body: the helpers inlined by hand, the rotation written into a local array.
#[differentiate(reverse, forward, wrt(cam, x, w))]
pub fn ba_reproj_inline(cam: [f64; 11], x: [f64; 3], w: f64, feat: &[f64; 2]) -> [f64; 2] {
    let pt = [x[0] - cam[3], x[1] - cam[4], x[2] - cam[5]];
    let sqtheta = cam[0] * cam[0] + cam[1] * cam[1] + cam[2] * cam[2];
    let mut xcam = [0.0; 3];
    if sqtheta != 0.0 {
        let theta = sqtheta.sqrt();
        let costheta = theta.cos();
        let sintheta = theta.sin();
        let theta_inverse = 1.0 / theta;
        let w0 = cam[0] * theta_inverse;
        let w1 = cam[1] * theta_inverse;
        let w2 = cam[2] * theta_inverse;
        let c0 = w1 * pt[2] - w2 * pt[1];
        let c1 = w2 * pt[0] - w0 * pt[2];
        let c2 = w0 * pt[1] - w1 * pt[0];
        let tmp = (w0 * pt[0] + w1 * pt[1] + w2 * pt[2]) * (1.0 - costheta);
        xcam[0] = pt[0] * costheta + c0 * sintheta + w0 * tmp;
        xcam[1] = pt[1] * costheta + c1 * sintheta + w1 * tmp;
        xcam[2] = pt[2] * costheta + c2 * sintheta + w2 * tmp;
    } else {
        xcam[0] = pt[0] + (cam[1] * pt[2] - cam[2] * pt[1]);
        xcam[1] = pt[1] + (cam[2] * pt[0] - cam[0] * pt[2]);
        xcam[2] = pt[2] + (cam[0] * pt[1] - cam[1] * pt[0]);
    }
    let p0 = xcam[0] / xcam[2];
    let p1 = xcam[1] / xcam[2];
    let rsq = p0 * p0 + p1 * p1;
    let l = 1.0 + cam[9] * rsq + cam[10] * rsq * rsq;
    [
        w * (p0 * l * cam[6] + cam[7] - feat[0]),
        w * (p1 * l * cam[6] + cam[8] - feat[1]),
    ]
}

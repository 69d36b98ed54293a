//! Several outputs: the Jacobian contenders, shared by the report (`examples/bench_jacobian.rs`)
//! and the agreement test (`tests/bench_jacobian.rs`).
//!
//! Three vector functions as their users write them, at (outputs, inputs) = (2, 3), (10, 10) and
//! (100, 6): a planar three-link arm's end-effector position (robot kinematics), the Lorenz-96
//! system's right-hand side (an ODE for a stiff solver), and the residuals of a damped oscillation
//! fitted to 100 points (least squares). Against `f_jacobian`: the Jacobian written by hand, in the
//! same form (a fixed-size `[[f64; N]; M]`, filled in one pass), and `num-dual`'s `jacobian`
//! (vector dual numbers, one forward pass carrying all N directions), over the same body made
//! generic over [`DualNum`].

// Used by the report and its test, not by every target that includes the shared code.
#![allow(dead_code)]
// Numerical code indexes its arrays, as the published definitions do.
#![allow(clippy::needless_range_loop)]

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

//! Functions as Rust programmers write them, from their published definitions: small statistical
//! models, physics formulas, and the optimisation test functions that `idioms_functions.rs` does
//! not have (Eggholder, Hölder table, Schaffer N. 4, Schwefel). Each is written idiomatically (array patterns,
//! iterator chains, closures, `match`), compiles under `#[differentiate(reverse, forward)]` as
//! written, and its gradient is checked at several points against a gradient derived by hand
//! (written out below each function), against finite differences of the original function, and
//! against forward mode.
// `n as f64` for a dimension is how these definitions are written.
#![allow(clippy::cast_precision_loss)]

use std::f64::consts::PI;

use autodiff::{Tolerance, check_gradient_with, differentiate};

/// Relative tolerance between the generated gradient and the hand-derived one, relative to the
/// larger of the two and of the gradient's norm (hand-derived forms sum their terms in another
/// order).
const REL: f64 = 1e-10;

/// Checks, at each point: the value of `grad` and `jvp` is `f`'s exactly; each gradient entry
/// equals the hand-derived one; the gradient agrees with finite differences of `f`; and `jvp`
/// along a mixed direction equals the gradient's dot product with it.
fn check<const N: usize>(
    name: &str,
    points: &[[f64; N]],
    f: impl Fn(&[f64; N]) -> f64,
    grad: impl Fn(&[f64; N]) -> (f64, [f64; N]),
    jvp: impl Fn(&[f64; N], &[f64; N]) -> (f64, f64),
    closed: impl Fn(&[f64; N]) -> [f64; N],
) {
    for p in points {
        let value = f(p);
        let (v, g) = grad(p);
        assert!(v == value, "{name} at {p:?}: f_grad value {v} != f {value}");
        let want = closed(p);
        let norm = want.iter().map(|w| w * w).sum::<f64>().sqrt();
        for i in 0..N {
            let scale = want[i].abs().max(g[i].abs()).max(1e-3 * norm).max(1e-300);
            assert!(
                (g[i] - want[i]).abs() <= REL * scale,
                "{name} at {p:?}: ∂/∂x{i} is {}, derived by hand {}",
                g[i],
                want[i]
            );
        }
        check_gradient_with(
            |x: &[f64]| f(x.try_into().expect("one coordinate per parameter")),
            p,
            &g,
            Tolerance {
                rel: 1e-6,
                abs: 1e-6,
            },
        )
        .unwrap_or_else(|e| panic!("{name} at {p:?} against finite differences: {e}"));
        let dir: [f64; N] = std::array::from_fn(|i| 0.5 - 0.37 * i as f64 + 0.11 * (i * i) as f64);
        let (vj, t) = jvp(p, &dir);
        assert!(
            vj == value,
            "{name} at {p:?}: f_jvp value {vj} != f {value}"
        );
        let dot: f64 = dir.iter().zip(&g).map(|(d, g)| d * g).sum();
        let terms: f64 = dir.iter().zip(&g).map(|(d, g)| (d * g).abs()).sum();
        assert!(
            (t - dot).abs() <= REL * terms.max(1e-300),
            "{name} at {p:?}: f_jvp gives {t}, gradient · direction {dot}"
        );
    }
}

/// [`check`] for a function of a slice.
fn check_slice<const N: usize>(
    name: &str,
    points: &[[f64; N]],
    f: impl Fn(&[f64]) -> f64,
    grad: impl Fn(&[f64]) -> (f64, Vec<f64>),
    jvp: impl Fn(&[f64], &[f64]) -> (f64, f64),
    closed: impl Fn(&[f64]) -> Vec<f64>,
) {
    check(
        name,
        points,
        |p| f(p),
        |p| {
            let (v, g) = grad(p);
            (v, g.try_into().expect("one entry per element"))
        },
        |p, d| jvp(p, d),
        |p| closed(p).try_into().expect("one entry per element"),
    );
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

const POINTS_2: [[f64; 2]; 4] = [[0.7, -1.3], [-2.1, 0.4], [1.9, 2.3], [-0.45, -0.8]];
const POINTS_4: [[f64; 4]; 3] = [
    [0.3, -1.2, 2.1, 0.8],
    [-1.7, 0.6, -0.25, 1.4],
    [2.2, 1.1, -0.9, -2.6],
];

// ---------------------------------------------------------------------------------------------
// Optimisation test functions of two variables.

#[differentiate(reverse, forward)]
fn eggholder(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    -(x2 + 47.0) * (x2 + x1 / 2.0 + 47.0).abs().sqrt().sin()
        - x1 * (x1 - (x2 + 47.0)).abs().sqrt().sin()
}

#[test]
fn eggholder_gradient() {
    check(
        "eggholder",
        &[[512.0, 404.2], [-100.5, 37.3], [250.0, -300.0]],
        eggholder,
        eggholder_grad,
        eggholder_jvp,
        |p| {
            let [x, y] = *p;
            let a = y + x / 2.0 + 47.0;
            let b = x - (y + 47.0);
            let (ra, rb) = (a.abs().sqrt(), b.abs().sqrt());
            let da = ra.cos() * sign(a) / (2.0 * ra);
            let db = rb.cos() * sign(b) / (2.0 * rb);
            [
                -(y + 47.0) * da * 0.5 - rb.sin() - x * db,
                -ra.sin() - (y + 47.0) * da + x * db,
            ]
        },
    );
}

#[differentiate(reverse, forward)]
fn holder_table(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    -(x1.sin() * x2.cos() * (1.0 - (x1.powi(2) + x2.powi(2)).sqrt() / PI).abs().exp()).abs()
}

#[test]
fn holder_table_gradient() {
    check(
        "holder_table",
        &[[8.0, 9.6], [-2.1, 0.4], [1.9, 2.3]],
        holder_table,
        holder_table_grad,
        holder_table_jvp,
        |p| {
            let [x, y] = *p;
            let rho = (x * x + y * y).sqrt();
            let h = 1.0 - rho / PI;
            let e = h.abs().exp();
            let g = x.sin() * y.cos() * e;
            let dg_dx = x.cos() * y.cos() * e + x.sin() * y.cos() * e * sign(h) * (-x / (rho * PI));
            let dg_dy =
                -x.sin() * y.sin() * e + x.sin() * y.cos() * e * sign(h) * (-y / (rho * PI));
            [-sign(g) * dg_dx, -sign(g) * dg_dy]
        },
    );
}

#[differentiate(reverse, forward)]
fn schaffer_n4(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    let denom = 1.0 + 0.001 * (x1.powi(2) + x2.powi(2));
    0.5 + ((x1.powi(2) - x2.powi(2)).abs().sin().cos().powi(2) - 0.5) / denom.powi(2)
}

#[test]
fn schaffer_n4_gradient() {
    check(
        "schaffer_n4",
        &POINTS_2,
        schaffer_n4,
        schaffer_n4_grad,
        schaffer_n4_jvp,
        |p| {
            let [x, y] = *p;
            let u = x * x - y * y;
            let a = u.abs();
            let v = 1.0 + 0.001 * (x * x + y * y);
            let num = a.sin().cos().powi(2) - 0.5;
            let dnum_da = -(2.0 * a.sin()).sin() * a.cos();
            [
                dnum_da * sign(u) * 2.0 * x / (v * v) - 2.0 * num / (v * v * v) * 0.002 * x,
                dnum_da * sign(u) * -2.0 * y / (v * v) - 2.0 * num / (v * v * v) * 0.002 * y,
            ]
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Optimisation test functions of n variables.

#[differentiate(reverse, forward)]
fn schwefel(param: &[f64]) -> f64 {
    418.982_887_272_433_8 * param.len() as f64
        - param.iter().map(|x| x * x.abs().sqrt().sin()).sum::<f64>()
}

#[test]
fn schwefel_gradient() {
    check_slice(
        "schwefel",
        &POINTS_4,
        schwefel,
        schwefel_grad,
        schwefel_jvp,
        |x| {
            x.iter()
                .map(|&v| {
                    let r = v.abs().sqrt();
                    -(r.sin() + v * r.cos() * sign(v) / (2.0 * r))
                })
                .collect()
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Small models.

/// The mean negative log-likelihood of logistic regression, rows of `features` by `chunks_exact`.
#[differentiate(reverse, forward, wrt(weights, bias))]
fn logistic_loss(weights: &[f64], bias: f64, features: &[f64], labels: &[f64]) -> f64 {
    let mut total = 0.0;
    for (row, &label) in features.chunks_exact(weights.len()).zip(labels) {
        let z = row.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>() + bias;
        total += (-label * z).exp().ln_1p();
    }
    total / labels.len() as f64
}

const FEATURES: [f64; 12] = [
    0.5, -1.2, 0.3, 1.1, 0.4, -0.7, -0.9, 0.2, 1.5, 0.05, -0.3, -1.1,
];
const LABELS: [f64; 4] = [1.0, -1.0, 1.0, -1.0];

#[test]
fn logistic_loss_gradient() {
    check(
        "logistic_loss",
        &[[0.3, -0.2, 0.7, 0.1], [-1.0, 0.5, 0.25, -0.4]],
        |p| logistic_loss(&p[..3], p[3], &FEATURES, &LABELS),
        |p| {
            let (v, dw, db) = logistic_loss_grad(&p[..3], p[3], &FEATURES, &LABELS);
            (v, [dw[0], dw[1], dw[2], db])
        },
        |p, d| logistic_loss_jvp(&p[..3], &d[..3], p[3], d[3], &FEATURES, &LABELS),
        |p| {
            let mut g = [0.0; 4];
            for (row, &y) in FEATURES.chunks_exact(3).zip(&LABELS) {
                let z = row[0] * p[0] + row[1] * p[1] + row[2] * p[2] + p[3];
                // d/dz ln(1 + exp(-y z)) = -y σ(-y z)
                let s = -y / (1.0 + (y * z).exp());
                for (gj, x) in g.iter_mut().zip(row) {
                    *gj += s * x / 4.0;
                }
                g[3] += s / 4.0;
            }
            g
        },
    );
}

/// Cross-entropy of a softmax over `logits` against the class `target`, stabilised by the max.
#[differentiate(reverse, forward)]
fn softmax_cross_entropy(logits: &[f64], target: usize) -> f64 {
    let max = logits.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let log_sum_exp = max + logits.iter().map(|&v| (v - max).exp()).sum::<f64>().ln();
    log_sum_exp - logits[target]
}

#[test]
fn softmax_cross_entropy_gradient() {
    check_slice(
        "softmax_cross_entropy",
        &POINTS_4,
        |x| softmax_cross_entropy(x, 2),
        |x| softmax_cross_entropy_grad(x, 2),
        |x, d| softmax_cross_entropy_jvp(x, d, 2),
        |x| {
            let total: f64 = x.iter().map(|v| v.exp()).sum();
            x.iter()
                .enumerate()
                .map(|(i, v)| v.exp() / total - if i == 2 { 1.0 } else { 0.0 })
                .collect()
        },
    );
}

/// The log-likelihood of `data` under a normal distribution.
#[differentiate(reverse, forward, wrt(mu, sigma))]
fn normal_log_likelihood(mu: f64, sigma: f64, data: &[f64]) -> f64 {
    data.iter()
        .map(|&x| {
            let z = (x - mu) / sigma;
            -0.5 * z * z - sigma.ln() - 0.5 * (2.0 * PI).ln()
        })
        .sum()
}

const DATA: [f64; 5] = [1.2, 0.7, -0.3, 2.4, 1.9];

#[test]
fn normal_log_likelihood_gradient() {
    check(
        "normal_log_likelihood",
        &[[1.0, 0.8], [0.2, 1.7], [-0.5, 2.5]],
        |p| normal_log_likelihood(p[0], p[1], &DATA),
        |p| {
            let (v, dm, ds) = normal_log_likelihood_grad(p[0], p[1], &DATA);
            (v, [dm, ds])
        },
        |p, d| normal_log_likelihood_jvp(p[0], d[0], p[1], d[1], &DATA),
        |p| {
            let [mu, sigma] = *p;
            let dmu = DATA.iter().map(|x| (x - mu) / (sigma * sigma)).sum();
            let dsigma = DATA
                .iter()
                .map(|x| (x - mu).powi(2) / sigma.powi(3) - 1.0 / sigma)
                .sum();
            [dmu, dsigma]
        },
    );
}

/// The Huber loss of predictions `a·t + b` against observations, the branch chosen by `match`.
#[differentiate(reverse, forward, wrt(a, b))]
fn huber_fit(a: f64, b: f64, times: &[f64], observed: &[f64]) -> f64 {
    let delta = 1.0;
    let mut loss = 0.0;
    for (t, y) in times.iter().zip(observed) {
        let r = a * t + b - y;
        loss += match r.abs() {
            a if a <= delta => 0.5 * r * r,
            a => delta * (a - 0.5 * delta),
        };
    }
    loss
}

const TIMES: [f64; 5] = [0.0, 1.0, 2.0, 3.0, 4.0];
const OBSERVED: [f64; 5] = [0.3, 1.4, 4.9, 3.2, 4.1];

#[test]
fn huber_fit_gradient() {
    check(
        "huber_fit",
        &[[1.0, 0.1], [0.8, 0.35], [1.3, -0.45]],
        |p| huber_fit(p[0], p[1], &TIMES, &OBSERVED),
        |p| {
            let (v, da, db) = huber_fit_grad(p[0], p[1], &TIMES, &OBSERVED);
            (v, [da, db])
        },
        |p, d| huber_fit_jvp(p[0], d[0], p[1], d[1], &TIMES, &OBSERVED),
        |p| {
            let mut g = [0.0; 2];
            for (t, y) in TIMES.iter().zip(&OBSERVED) {
                let r = p[0] * t + p[1] - y;
                let dr = if r.abs() <= 1.0 { r } else { sign(r) };
                g[0] += dr * t;
                g[1] += dr;
            }
            g
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Physics.

/// The energy of a double pendulum (unit masses and lengths) in the state `[θ₁, θ₂, ω₁, ω₂]`.
#[differentiate(reverse, forward)]
fn double_pendulum_energy(state: [f64; 4]) -> f64 {
    const G: f64 = 9.81;
    let [theta1, theta2, omega1, omega2] = state;
    let kinetic = omega1.powi(2) + 0.5 * omega2.powi(2) + omega1 * omega2 * (theta1 - theta2).cos();
    let potential = -2.0 * G * theta1.cos() - G * theta2.cos();
    kinetic + potential
}

#[test]
fn double_pendulum_energy_gradient() {
    check(
        "double_pendulum_energy",
        &POINTS_4,
        |p| double_pendulum_energy(*p),
        |p| double_pendulum_energy_grad(*p),
        |p, d| double_pendulum_energy_jvp(*p, *d),
        |p| {
            let [t1, t2, w1, w2] = *p;
            let g = 9.81;
            [
                -w1 * w2 * (t1 - t2).sin() + 2.0 * g * t1.sin(),
                w1 * w2 * (t1 - t2).sin() + g * t2.sin(),
                2.0 * w1 + w2 * (t1 - t2).cos(),
                w2 + w1 * (t1 - t2).cos(),
            ]
        },
    );
}

/// The elastic energy of a chain of springs between consecutive positions.
#[differentiate(reverse, forward)]
fn spring_chain_energy(positions: &[f64]) -> f64 {
    const STIFFNESS: f64 = 3.5;
    const REST: f64 = 0.75;
    positions
        .windows(2)
        .map(|pair| 0.5 * STIFFNESS * (pair[1] - pair[0] - REST).powi(2))
        .sum()
}

#[test]
fn spring_chain_energy_gradient() {
    check_slice(
        "spring_chain_energy",
        &POINTS_4,
        spring_chain_energy,
        spring_chain_energy_grad,
        spring_chain_energy_jvp,
        |x| {
            let mut g = vec![0.0; x.len()];
            for i in 0..x.len() - 1 {
                let force = 3.5 * (x[i + 1] - x[i] - 0.75);
                g[i + 1] += force;
                g[i] -= force;
            }
            g
        },
    );
}

/// The gravitational potential energy of three unit masses in the plane, pairs in nested loops.
#[differentiate(reverse, forward)]
fn gravitational_energy(xs: [f64; 3], ys: [f64; 3]) -> f64 {
    let mut energy = 0.0;
    for i in 0..3 {
        for j in i + 1..3 {
            let r = ((xs[i] - xs[j]).powi(2) + (ys[i] - ys[j]).powi(2)).sqrt();
            energy -= 1.0 / r;
        }
    }
    energy
}

#[test]
fn gravitational_energy_gradient() {
    check(
        "gravitational_energy",
        &[
            [0.0, 1.0, -0.5, 0.2, -0.7, 1.3],
            [2.0, -1.0, 0.5, 0.9, 0.1, -1.4],
        ],
        |p: &[f64; 6]| gravitational_energy([p[0], p[1], p[2]], [p[3], p[4], p[5]]),
        |p| {
            let (v, dx, dy) = gravitational_energy_grad([p[0], p[1], p[2]], [p[3], p[4], p[5]]);
            (v, [dx[0], dx[1], dx[2], dy[0], dy[1], dy[2]])
        },
        |p, d| {
            gravitational_energy_jvp(
                [p[0], p[1], p[2]],
                [d[0], d[1], d[2]],
                [p[3], p[4], p[5]],
                [d[3], d[4], d[5]],
            )
        },
        |p| {
            let mut g = [0.0; 6];
            for i in 0..3 {
                for j in 0..3 {
                    if i != j {
                        let (dx, dy) = (p[i] - p[j], p[3 + i] - p[3 + j]);
                        let r3 = (dx * dx + dy * dy).powf(1.5);
                        // ∂(-1/r)/∂x_i = (x_i - x_j) / r³
                        g[i] += dx / r3;
                        g[3 + i] += dy / r3;
                    }
                }
            }
            g
        },
    );
}

//! Fits a sum of two decaying exponentials to noisy data by Levenberg–Marquardt, on the
//! Jacobian of the residuals that `#[differentiate]` generates (40 outputs of 4 parameters: four
//! forward sweeps).
//!
//! `cargo run --example curve_fit` prints the iterations and the fitted parameters.
// Dense linear algebra on small matrices reads best with indices.
#![allow(clippy::needless_range_loop)]
use autodiff::differentiate;

/// The number of data points.
const N: usize = 40;

/// The residuals `a₁ e^{−k₁ t} + a₂ e^{−k₂ t} − y` of the model with parameters
/// `p = (a₁, k₁, a₂, k₂)` at the data points.
#[differentiate(reverse, wrt(p))]
fn residuals(p: [f64; 4], t: &[f64; N], y: &[f64; N]) -> [f64; N] {
    let mut r = [0.0; N];
    for i in 0..N {
        r[i] = p[0] * (-p[1] * t[i]).exp() + p[2] * (-p[3] * t[i]).exp() - y[i];
    }
    r
}

fn cost(r: &[f64; N]) -> f64 {
    0.5 * r.iter().map(|r| r * r).sum::<f64>()
}

/// Solves `a x = b` for a 4×4 system by Gaussian elimination with partial pivoting.
fn solve(mut a: [[f64; 4]; 4], mut b: [f64; 4]) -> [f64; 4] {
    for c in 0..4 {
        let pivot = (c..4)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap_or(c);
        a.swap(c, pivot);
        b.swap(c, pivot);
        for r in c + 1..4 {
            let f = a[r][c] / a[c][c];
            for k in c..4 {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0.0; 4];
    for r in (0..4).rev() {
        let s: f64 = (r + 1..4).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x
}

fn main() {
    // Data from (a₁, k₁, a₂, k₂) = (3, 2.5, 1, 0.3) with deterministic pseudo-random noise.
    let truth = [3.0, 2.5, 1.0, 0.3];
    let mut t = [0.0; N];
    let mut y = [0.0; N];
    let mut state: u64 = 12345;
    for i in 0..N {
        t[i] = 0.1 * f64::from(u32::try_from(i).expect("small"));
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let noise = f64::from(u32::try_from(state >> 40).expect("24 bits")) / f64::from(1u32 << 24);
        y[i] = truth[0] * (-truth[1] * t[i]).exp()
            + truth[2] * (-truth[3] * t[i]).exp()
            + 0.01 * (noise - 0.5);
    }

    let mut p = [1.0, 1.0, 0.5, 0.1];
    let mut lambda = 1e-3;
    let (mut r, mut jac) = residuals_jacobian(p, &t, &y);
    for iteration in 0..100 {
        let c = cost(&r);
        println!("{iteration:3}: cost {c:.6e}  λ {lambda:.1e}  p {p:.5?}");
        // Normal equations with Marquardt's scaling: (JᵀJ + λ diag JᵀJ) δ = −Jᵀr.
        let mut a = [[0.0; 4]; 4];
        let mut g = [0.0; 4];
        for i in 0..N {
            for j in 0..4 {
                g[j] -= jac[i][j] * r[i];
                for k in 0..4 {
                    a[j][k] += jac[i][j] * jac[i][k];
                }
            }
        }
        if g.iter().map(|g| g.abs()).fold(0.0, f64::max) < 1e-12 {
            break;
        }
        for j in 0..4 {
            a[j][j] *= 1.0 + lambda;
        }
        let delta = solve(a, g);
        let mut trial = p;
        for (q, d) in trial.iter_mut().zip(delta) {
            *q += d;
        }
        let (r_trial, jac_trial) = residuals_jacobian(trial, &t, &y);
        if cost(&r_trial) < c {
            let converged = (c - cost(&r_trial)) < 1e-15 * c;
            (p, r, jac) = (trial, r_trial, jac_trial);
            lambda = (lambda / 3.0).max(1e-12);
            if converged {
                break;
            }
        } else {
            lambda *= 4.0;
        }
    }
    println!(
        "fitted a₁ = {:.4}, k₁ = {:.4}, a₂ = {:.4}, k₂ = {:.4}",
        p[0], p[1], p[2], p[3]
    );
    println!(
        "truth  a₁ = {:.4}, k₁ = {:.4}, a₂ = {:.4}, k₂ = {:.4}",
        truth[0], truth[1], truth[2], truth[3]
    );
}

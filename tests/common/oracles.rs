//! Oracles of the ported programs (`programs*.rs`): fourth-order central differences of a
//! function, and comparisons with a relative tolerance and a floor below the largest entry.

/// Fourth-order central differences of a vector-valued `f` at `p`: `jac[i][j] = ∂fᵢ/∂pⱼ`.
pub fn fd_jacobian(f: impl Fn(&[f64]) -> Vec<f64>, p: &[f64]) -> Vec<Vec<f64>> {
    let m = f(p).len();
    let mut jac = vec![vec![0.0; p.len()]; m];
    for j in 0..p.len() {
        let h = 1e-4 * p[j].abs().max(1.0);
        let at = |e: f64| {
            let mut q = p.to_vec();
            q[j] += e;
            f(&q)
        };
        let (a, b, c, d) = (at(2.0 * h), at(h), at(-h), at(-2.0 * h));
        for i in 0..m {
            jac[i][j] = (-a[i] + 8.0 * b[i] - 8.0 * c[i] + d[i]) / (12.0 * h);
        }
    }
    jac
}

/// Fourth-order central differences of a scalar `f` at `p`.
pub fn fd_gradient(f: impl Fn(&[f64]) -> f64, p: &[f64]) -> Vec<f64> {
    fd_jacobian(|q| vec![f(q)], p).remove(0)
}

/// Fourth-order central difference of `f` along `v` at `p`.
pub fn fd_directional(f: impl Fn(&[f64]) -> Vec<f64>, p: &[f64], v: &[f64]) -> Vec<f64> {
    let h = 1e-4;
    let at = |e: f64| {
        let q: Vec<f64> = p.iter().zip(v).map(|(a, b)| a + e * b).collect();
        f(&q)
    };
    let (a, b, c, d) = (at(2.0 * h), at(h), at(-h), at(-2.0 * h));
    (0..a.len())
        .map(|i| (-a[i] + 8.0 * b[i] - 8.0 * c[i] + d[i]) / (12.0 * h))
        .collect()
}

/// Asserts `got` is `want` to `tol`, relative to each entry and, for entries much smaller than
/// the largest, to a thousandth of the largest.
#[track_caller]
pub fn assert_near(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0.0_f64, |m, w| m.max(w.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let bound = tol * (w.abs() + 1e-3 * scale) + 1e-11;
        assert!(
            (g - w).abs() <= bound,
            "{what}[{i}]: got {g:e}, want {w:e} (difference {:e})",
            (g - w).abs()
        );
    }
}

/// Tolerance between a generated derivative and finite differences.
pub const FD: f64 = 1e-6;

/// Tolerance between a generated derivative and a closed form.
pub const EXACT: f64 = 1e-10;

pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A fixed direction with all entries nonzero.
#[allow(clippy::cast_precision_loss)] // a handful of entries
pub fn direction(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 0.6 - 0.37 * i as f64 + 0.05 * (i * i) as f64 + 0.013)
        .collect()
}

/// Checks a row-major Hessian (N·N) against central differences of a checked gradient, and for
/// symmetry.
#[track_caller]
pub fn check_hessian(what: &str, hess: &[f64], grad: impl Fn(&[f64]) -> Vec<f64>, p: &[f64]) {
    let n = p.len();
    assert_eq!(hess.len(), n * n, "{what}: Hessian size");
    let jac = fd_jacobian(grad, p);
    let want: Vec<f64> = jac.into_iter().flatten().collect();
    assert_near(what, hess, &want, 1e-5);
    for i in 0..n {
        for j in 0..i {
            let (a, b) = (hess[i * n + j], hess[j * n + i]);
            assert!(
                (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
                "{what}: not symmetric at ({i}, {j}): {a} vs {b}"
            );
        }
    }
}

/// The row-major Hessian (N·N) by central differences of a gradient.
pub fn fd_hessian(grad: impl Fn(&[f64]) -> Vec<f64>, p: &[f64]) -> Vec<f64> {
    fd_jacobian(grad, p).into_iter().flatten().collect()
}

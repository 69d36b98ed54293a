//! Second order: `f_hvp` and `f_hessian` against closed forms, finite differences of `f_grad`,
//! and each other.
// Hessians are indexed as matrices.
#![allow(clippy::needless_range_loop)]
use approx::assert_relative_eq;
use autodiff::{differentiate, sigmoid};

/// The seed's `f = (x + y)·y = xy + y²`: `H = [[0, 1], [1, 2]]`.
#[differentiate(reverse, hessian)]
fn f(x: f64, y: f64) -> f64 {
    (x + y) * y
}

/// The single neuron: `L = (σ(w·x + b) − t)²`.
#[differentiate(reverse, hessian)]
fn neuron(x: f64, w: f64, b: f64, t: f64) -> f64 {
    let z = w * x;
    let s = z + b;
    let a = sigmoid(s);
    let e = a - t;
    e.powi(2)
}

#[test]
fn seed_hessian() {
    for (x, y) in [(2.0, 3.0), (-1.5, 0.25), (0.0, 0.0)] {
        let (value, dx, dy, hess) = f_hessian(x, y);
        assert_eq!((value, dx, dy), f_grad(x, y));
        assert_eq!(hess, [[0.0, 1.0], [1.0, 2.0]]);
        let (value, dx, dy, hx, hy) = f_hvp(x, 0.5, y, -2.0);
        assert_eq!((value, dx, dy), f_grad(x, y));
        assert_eq!((hx, hy), (-2.0, 0.5 - 4.0));
    }
}

/// Central differences of a gradient: column `j` of the Hessian.
fn fd_hessian<const N: usize>(grad: impl Fn([f64; N]) -> [f64; N], at: [f64; N]) -> [[f64; N]; N] {
    let mut h = [[0.0; N]; N];
    for j in 0..N {
        let step = 1e-5 * (1.0 + at[j].abs());
        let (mut up, mut down) = (at, at);
        up[j] += step;
        down[j] -= step;
        let (gu, gd) = (grad(up), grad(down));
        for i in 0..N {
            h[i][j] = (gu[i] - gd[i]) / (2.0 * step);
        }
    }
    h
}

fn assert_hessian_close<const N: usize>(what: &str, got: &[[f64; N]; N], want: &[[f64; N]; N]) {
    for i in 0..N {
        for j in 0..N {
            let (g, w) = (got[i][j], want[i][j]);
            assert!(
                (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                "{what}: H[{i}][{j}] = {g}, expected {w}"
            );
        }
    }
}

fn assert_symmetric<const N: usize>(what: &str, h: &[[f64; N]; N]) {
    for i in 0..N {
        for j in 0..i {
            assert_relative_eq!(h[i][j], h[j][i], epsilon = 1e-12, max_relative = 1e-12);
            let _ = what;
        }
    }
}

#[test]
fn neuron_hessian_matches_differences_of_the_gradient() {
    for at in [
        [0.5, -1.2, 0.3, 1.0],
        [2.0, 0.7, -0.4, 0.0],
        [-1.0, 1.5, 2.0, 0.25],
    ] {
        let [x, w, b, t] = at;
        let (value, dx, dw, db, dt, hess) = neuron_hessian(x, w, b, t);
        assert_eq!((value, dx, dw, db, dt), neuron_grad(x, w, b, t));
        let fd = fd_hessian(
            |[x, w, b, t]| {
                let (_, dx, dw, db, dt) = neuron_grad(x, w, b, t);
                [dx, dw, db, dt]
            },
            at,
        );
        assert_hessian_close("neuron", &hess, &fd);
        assert_symmetric("neuron", &hess);
        // ∂²L/∂t² = 2 and ∂²L/∂b∂t = −2σ'(s), by hand.
        let a = sigmoid(w * x + b);
        assert_relative_eq!(hess[3][3], 2.0, max_relative = 1e-12);
        assert_relative_eq!(hess[2][3], -2.0 * a * (1.0 - a), max_relative = 1e-12);
    }
}

/// Rosenbrock's function in four dimensions, a loop over a fixed-size array.
#[differentiate(reverse, hessian)]
fn rosenbrock(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        s += a * a + 100.0 * b * b;
    }
    s
}

/// Rosenbrock's Hessian by hand: tridiagonal, `H[i][i] = 1200 xᵢ² − 400 xᵢ₊₁ + 2` (without the
/// last two terms for the last `i`) `+ 200` (for `i > 0`), `H[i][i+1] = −400 xᵢ`.
fn rosenbrock_hessian_by_hand(x: [f64; 4]) -> [[f64; 4]; 4] {
    let mut h = [[0.0; 4]; 4];
    for i in 0..4 {
        if i < 3 {
            h[i][i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0;
            h[i][i + 1] = -400.0 * x[i];
            h[i + 1][i] = -400.0 * x[i];
        }
        if i > 0 {
            h[i][i] += 200.0;
        }
    }
    h
}

#[test]
fn rosenbrock_hessian_is_tridiagonal_as_by_hand() {
    for x in [
        [1.0, 1.0, 1.0, 1.0],
        [-1.2, 1.0, 0.5, -0.3],
        [0.0, 2.0, -1.0, 3.0],
    ] {
        let (value, d_x, hess) = rosenbrock_hessian(x);
        assert_eq!((value, d_x), rosenbrock_grad(x));
        assert_hessian_close("rosenbrock", &hess, &rosenbrock_hessian_by_hand(x));
        assert_symmetric("rosenbrock", &hess);
        // H·v against hess · v.
        let v = [0.3, -1.0, 2.0, 0.5];
        let (value, d, hv) = rosenbrock_hvp(x, v);
        assert_eq!((value, d), rosenbrock_grad(x));
        for i in 0..4 {
            let want: f64 = (0..4).map(|j| hess[i][j] * v[j]).sum();
            assert_relative_eq!(hv[i], want, epsilon = 1e-10, max_relative = 1e-12);
        }
    }
}

/// Rosenbrock's function over a slice: `f_hvp_into` adds into buffers, `f_hessian` is a `Vec`.
#[differentiate(reverse, hessian)]
fn rosenbrock_slice(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 1 {
        let a = 1.0 - x[i];
        let b = x[i + 1] - x[i] * x[i];
        s += a * a + 100.0 * b * b;
    }
    s
}

#[test]
fn slices_give_the_array_hessian() {
    let x = [-1.2, 1.0, 0.5, -0.3];
    let (value, d_x, hess) = rosenbrock_slice_hessian(&x);
    let (v0, g0) = rosenbrock_grad(x);
    assert_eq!(value, v0);
    assert_eq!(d_x, g0.to_vec());
    let by_hand = rosenbrock_hessian_by_hand(x);
    assert_eq!(hess.len(), 16);
    for i in 0..4 {
        for j in 0..4 {
            assert_relative_eq!(hess[i * 4 + j], by_hand[i][j], epsilon = 1e-9);
        }
    }
    // `f_hvp_into` adds into its buffers.
    let v = [1.0, 0.0, -1.0, 2.0];
    let mut g = vec![1.0; 4];
    let mut hv = vec![-1.0; 4];
    let (value,) = rosenbrock_slice_hvp_into(&x, &v, &mut g, &mut hv);
    assert_eq!(value, v0);
    for i in 0..4 {
        let want: f64 = (0..4).map(|j| by_hand[i][j] * v[j]).sum();
        assert_relative_eq!(hv[i], want - 1.0, epsilon = 1e-9);
        assert_relative_eq!(g[i], g0[i] + 1.0, epsilon = 1e-12);
    }
    let (_, d, h) = rosenbrock_slice_hvp(&x, &v);
    assert_eq!(d, g0.to_vec());
    for i in 0..4 {
        assert_relative_eq!(h[i], hv[i] + 1.0, epsilon = 1e-9);
    }
}

/// Branches and a loop whose values the backward sweep takes back from a tape.
#[differentiate(reverse, hessian)]
fn taped(x: f64, y: f64) -> f64 {
    let mut p = x;
    for _ in 0..3 {
        p = p * p.sin() + y;
    }
    if p > y { p * p * y } else { (p * y).exp() }
}

#[test]
fn tapes_and_branches_match_differences_of_the_gradient() {
    for at in [[0.7, 0.2], [1.3, -0.4], [-2.0, 0.9], [0.1, 3.0]] {
        let (value, dx, dy, hess) = taped_hessian(at[0], at[1]);
        assert_eq!((value, dx, dy), taped_grad(at[0], at[1]));
        let fd = fd_hessian(
            |[x, y]| {
                let (_, dx, dy) = taped_grad(x, y);
                [dx, dy]
            },
            at,
        );
        assert_hessian_close("taped", &hess, &fd);
        assert_symmetric("taped", &hess);
    }
}

/// A `while` loop, local arrays and `f32`.
#[differentiate(reverse, hessian)]
fn local_f32(x: f32, w: [f32; 3]) -> f32 {
    let mut h = [0.0f32; 3];
    let mut i = 0;
    while i < 3 {
        h[i] = (w[i] * x).tanh();
        i += 1;
    }
    h[0] * h[1] + h[2] * h[2] * x
}

#[test]
fn f32_with_local_arrays_matches_differences_in_f64() {
    /// The same function in `f64`, for the oracle.
    #[differentiate(reverse)]
    fn local_f64(x: f64, w: [f64; 3]) -> f64 {
        let mut h = [0.0; 3];
        let mut i = 0;
        while i < 3 {
            h[i] = (w[i] * x).tanh();
            i += 1;
        }
        h[0] * h[1] + h[2] * h[2] * x
    }
    // Opaque to the optimizer: a release build folds `tanh` of a constant `f32` at compile time,
    // which may differ from the runtime's `tanhf` in the last place (`tanh(0.48000002)`), and
    // would fold it in one of the two calls compared bit for bit and not in the other.
    let at = std::hint::black_box([0.4, 0.9, -0.6, 1.2]);
    #[allow(clippy::cast_possible_truncation)]
    let (value, dx, dw, hess) =
        local_f32_hessian(at[0] as f32, [at[1] as f32, at[2] as f32, at[3] as f32]);
    #[allow(clippy::cast_possible_truncation)]
    let grad = local_f32_grad(at[0] as f32, [at[1] as f32, at[2] as f32, at[3] as f32]);
    assert_eq!((value, dx, dw), grad);
    let fd = fd_hessian(
        |[x, a, b, c]| {
            let (_, dx, dw) = local_f64_grad(x, [a, b, c]);
            [dx, dw[0], dw[1], dw[2]]
        },
        at,
    );
    for i in 0..4 {
        for j in 0..4 {
            assert!(
                (f64::from(hess[i][j]) - fd[i][j]).abs() < 1e-4 * (1.0 + fd[i][j].abs()),
                "H[{i}][{j}] = {}, expected {}",
                hess[i][j],
                fd[i][j]
            );
        }
    }
}

/// Every smooth row of the table, composed, so that each row's derivative is differentiated.
#[differentiate(reverse, hessian)]
fn every_row(x: f64, y: f64) -> f64 {
    let a = x.exp() + x.exp2() + x.exp_m1() + (x * x + 1.0).ln() + y.abs().ln_1p();
    let a = a + (y * y + 2.0).log(3.0) + (x * x + 1.0).log2() + (y * y + 1.0).log10();
    let mut b = (x * x + 1.0).sqrt() + x.cbrt() + x.powi(3) + (y * y + 1.0).powf(x);
    b += x.sin() * x.cos() + (x * 0.5).tan() + (x * 0.1).asin() + (y * 0.1).acos();
    b -= x.atan() + y.atan2(x) + x.sinh() + x.cosh() + x.tanh() + x.asinh();
    b *= (y * y + 2.0).acosh() + (x * 0.1).atanh() + x.abs() + x.signum();
    b /= 1.0 + x.max(y).powi(2) + x.min(y).powi(2);
    let c = x.hypot(y) + (x * x + 1.0).recip() + x.mul_add(y, 1.0) + x.to_radians();
    let c = c + y.to_degrees() + sigmoid(x) + autodiff::softplus(y) + x.clamp(-1.0, 1.0);
    a * b + c * (x % 2.0) / y
}

#[test]
fn every_row_matches_differences_of_the_gradient() {
    for at in [[0.3, 0.7], [1.7, -0.4], [-0.6, 1.9]] {
        let (value, dx, dy, hess) = every_row_hessian(at[0], at[1]);
        assert_eq!((value, dx, dy), every_row_grad(at[0], at[1]));
        let fd = fd_hessian(
            |[x, y]| {
                let (_, dx, dy) = every_row_grad(x, y);
                [dx, dy]
            },
            at,
        );
        for i in 0..2 {
            for j in 0..2 {
                let (g, w) = (hess[i][j], fd[i][j]);
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "every_row at {at:?}: H[{i}][{j}] = {g}, expected {w}"
                );
            }
        }
        assert_relative_eq!(hess[0][1], hess[1][0], max_relative = 1e-10);
    }
}

/// `√(x² + y²)`: at the origin the gradient is the subgradient `(0, 0)` (the `0 · ∞` guard),
/// and the second derivatives are no NaN where the guard's row is differentiated.
#[differentiate(reverse, hessian)]
fn norm(x: f64, y: f64) -> f64 {
    (x * x + y * y).sqrt()
}

#[test]
fn the_zero_guard_is_differentiated() {
    // Away from the origin, by hand: H = (I − u uᵀ) / r with u = (x, y) / r.
    let (x, y) = (3.0, 4.0);
    let (value, dx, dy, hess) = norm_hessian(x, y);
    assert_eq!((value, dx, dy), norm_grad(x, y));
    let r: f64 = 5.0;
    let want = [
        [(1.0 - x * x / (r * r)) / r, -x * y / (r * r * r)],
        [-x * y / (r * r * r), (1.0 - y * y / (r * r)) / r],
    ];
    assert_hessian_close("norm", &hess, &want);
    // At the origin: the value and the subgradient as `f_grad` gives them.
    let (value, dx, dy, _, _) = norm_hvp(0.0, 1.0, 0.0, 0.0);
    assert_eq!((value, dx, dy), (0.0, 0.0, 0.0));
}

/// Arrays, slices and scalars together, with an early return: the rows of each active input
/// in order.
#[differentiate(reverse, hessian)]
fn mixed(x: &[f64], w: [f64; 2], b: f64) -> f64 {
    let mut s = b * b;
    for i in 0..x.len() {
        let t = (w[i % 2] * x[i] + b).tanh();
        if t > 0.9 {
            return s + t;
        }
        s += t * t * x[i];
    }
    s
}

#[test]
fn mixed_inputs_match_differences_of_the_gradient() {
    // The second point returns early, from the second iteration.
    for (x, w, b) in [
        ([0.3, -0.5, 0.8], [0.7, -1.1], 0.2),
        ([0.1, 2.0, 0.5], [0.4, 1.5], 0.3),
    ] {
        let (value, dx, dw, db, hess) = mixed_hessian(&x, w, b);
        assert_eq!((value, dx.clone(), dw, db), mixed_grad(&x, w, b));
        assert_eq!(hess.len(), 36);
        let at = [x[0], x[1], x[2], w[0], w[1], b];
        let fd = fd_hessian(
            |p| {
                let (_, dx, dw, db) = mixed_grad(&p[..3], [p[3], p[4]], p[5]);
                [dx[0], dx[1], dx[2], dw[0], dw[1], db]
            },
            at,
        );
        for i in 0..6 {
            for j in 0..6 {
                let (g, want) = (hess[i * 6 + j], fd[i][j]);
                assert!(
                    (g - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "mixed: H[{i}][{j}] = {g}, expected {want}"
                );
                assert_relative_eq!(g, hess[j * 6 + i], epsilon = 1e-12, max_relative = 1e-12);
            }
        }
    }
}

/// A helper differentiated to second order: `g(a, b) = a² b`.
#[differentiate(reverse, hessian)]
fn helper(a: f64, b: f64) -> f64 {
    a * a * b
}

/// Calls go through `helper_hvp`, in a loop whose partials are taped, with a constant argument.
#[differentiate(reverse, hessian)]
fn caller(x: f64, y: f64) -> f64 {
    let mut s = helper(x, y) + helper(2.0, x);
    for i in 0..3 {
        s = helper(s.sin(), y) + f64::from(i) * x;
    }
    s
}

/// An opaque function with a hand-written second derivative: `softsign(t) = t / (1 + |t|)`.
fn softsign(t: f64) -> f64 {
    t / (1.0 + t.abs())
}

fn softsign_grad(t: f64) -> (f64, f64) {
    let d = 1.0 + t.abs();
    (softsign(t), 1.0 / (d * d))
}

fn softsign_hvp(t: f64, v: f64) -> (f64, f64, f64) {
    let d = 1.0 + t.abs();
    (
        softsign(t),
        1.0 / (d * d),
        -2.0 * t.signum() / (d * d * d) * v,
    )
}

#[differentiate(reverse, hessian)]
fn custom(x: f64, y: f64) -> f64 {
    softsign(x * y) * y
}

#[test]
fn calls_go_through_the_callees_hvp() {
    for at in [[0.4, 0.9], [-1.3, 0.2], [0.8, -0.7]] {
        let (value, dx, dy, hess) = caller_hessian(at[0], at[1]);
        assert_eq!((value, dx, dy), caller_grad(at[0], at[1]));
        let fd = fd_hessian(
            |[x, y]| {
                let (_, dx, dy) = caller_grad(x, y);
                [dx, dy]
            },
            at,
        );
        assert_hessian_close("caller", &hess, &fd);
        assert_symmetric("caller", &hess);

        let (value, dx, dy, hess) = custom_hessian(at[0], at[1]);
        assert_eq!((value, dx, dy), custom_grad(at[0], at[1]));
        let fd = fd_hessian(
            |[x, y]| {
                let (_, dx, dy) = custom_grad(x, y);
                [dx, dy]
            },
            at,
        );
        assert_hessian_close("custom", &hess, &fd);
    }
}

/// A function generic over its float type, differentiated with respect to some parameters only.
#[differentiate(reverse, hessian, wrt(x, w))]
fn generic<T: num_traits::Float>(x: T, w: [T; 2], c: T) -> T {
    (w[0] * x).sin() * w[1] + c * x * x
}

#[test]
fn generic_functions_and_wrt() {
    let (x, w, c): (f64, [f64; 2], f64) = (0.7, [1.3, -0.4], 2.5);
    let (value, dx, dw, hess) = generic_hessian(x, w, c);
    assert_eq!((value, dx, dw), generic_grad(x, w, c));
    // By hand, over (x, w₀, w₁): f = sin(w₀x)·w₁ + c·x².
    let (s, co) = ((w[0] * x).sin(), (w[0] * x).cos());
    let want = [
        [
            -w[0] * w[0] * s * w[1] + 2.0 * c,
            (co - w[0] * x * s) * w[1],
            w[0] * co,
        ],
        [(co - w[0] * x * s) * w[1], -x * x * s * w[1], x * co],
        [w[0] * co, x * co, 0.0],
    ];
    assert_hessian_close("generic", &hess, &want);
}

/// Two slices between an array and a scalar: each active input's part of a row is filled by its
/// own buffer or entry.
#[differentiate(reverse, hessian)]
fn two_slices(x: &[f64], w: [f64; 2], b: f64, y: &[f64]) -> f64 {
    let mut s = b * w[0];
    for i in 0..x.len() {
        s += (x[i] * y[i] + w[1]).sin() * b + x[i] * x[i] * y[i];
    }
    s * s
}

#[test]
fn two_slices_match_differences_of_the_gradient() {
    let (x, w, b, y) = ([0.3, -0.5, 0.8], [0.7, -1.1], 0.2, [1.5, 0.25, -0.6]);
    let (value, dx, dw, db, dy, hess) = two_slices_hessian(&x, w, b, &y);
    assert_eq!(
        (value, dx, dw, db, dy),
        two_slices_grad(&x, w, b, &y),
        "f_hessian's value and gradient are f_grad's"
    );
    assert_eq!(hess.len(), 81);
    let at = [x[0], x[1], x[2], w[0], w[1], b, y[0], y[1], y[2]];
    let fd = fd_hessian(
        |p| {
            let (_, dx, dw, db, dy) = two_slices_grad(&p[..3], [p[3], p[4]], p[5], &p[6..]);
            [dx[0], dx[1], dx[2], dw[0], dw[1], db, dy[0], dy[1], dy[2]]
        },
        at,
    );
    for i in 0..9 {
        for j in 0..9 {
            let (g, want) = (hess[i * 9 + j], fd[i][j]);
            assert!(
                (g - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "two slices: H[{i}][{j}] = {g}, expected {want}"
            );
        }
    }
}

/// The rows of `f_hessian` come from separate products, whose rounding differs; the result is
/// symmetric exactly all the same, each entry within rounding of both products.
#[test]
fn hessians_are_symmetric_exactly() {
    let mut asymmetric_products = 0;
    for k in 0..40 {
        let p = f64::from(k);
        let at = [
            (0.37 * p).sin() * 2.0,
            (1.3 * p).cos(),
            0.1 * p - 2.0,
            (0.7 * p).sin(),
        ];
        let (_, _, _, _, _, hess) = neuron_hessian(at[0], at[1], at[2], at[3]);
        let mut rows = [[0.0; 4]; 4];
        for (j, row) in rows.iter_mut().enumerate() {
            let e = |i: usize| if i == j { 1.0 } else { 0.0 };
            let (_, _, _, _, _, a, b, c, d) =
                neuron_hvp(at[0], e(0), at[1], e(1), at[2], e(2), at[3], e(3));
            *row = [a, b, c, d];
        }
        for i in 0..4 {
            for j in 0..4 {
                assert_eq!(hess[i][j].to_bits(), hess[j][i].to_bits(), "H[{i}][{j}]");
                let scale = 1e-14 * (1.0 + rows[i][j].abs());
                assert!((hess[i][j] - rows[i][j]).abs() <= scale);
                assert!((hess[i][j] - rows[j][i]).abs() <= scale);
                asymmetric_products += usize::from(rows[i][j] != rows[j][i]);
            }
        }
        let x = [at[0], at[1], at[2], at[3], 0.5];
        let (_, _, hess) = rosenbrock_slice_hessian(&x);
        for i in 0..5 {
            for j in 0..5 {
                assert_eq!(hess[i * 5 + j].to_bits(), hess[j * 5 + i].to_bits());
            }
        }
    }
    // The test means something: some products do differ in their last bits.
    assert!(asymmetric_products > 0);
}

/// `f_hessian` of fixed-size inputs allocates nothing; with slices it allocates its buffers
/// once, however many rows it fills.
#[test]
fn hessians_allocate_once_not_per_row() {
    use allocation_counter::measure;
    use std::hint::black_box;
    let info = measure(|| {
        black_box(neuron_hessian(black_box(2.0), 0.5, 0.1, 1.0));
    });
    assert_eq!(info.count_total, 0);
    let info = measure(|| {
        black_box(rosenbrock_hessian(black_box([-1.2, 1.0, 0.5, -0.3])));
    });
    assert_eq!(info.count_total, 0);
    let count = |n: u32| {
        let x: Vec<f64> = (0..n).map(|i| 0.1 * f64::from(i)).collect();
        measure(|| {
            black_box(rosenbrock_slice_hessian(black_box(&x)));
        })
        .count_total
    };
    assert_eq!(count(4), count(40));
}

/// A local array declared in a loop body, stored to in only some iterations: the backward code
/// zeroes its adjoint where each iteration ends, and that assignment has a tangent too.
/// `f = x² + Σ_{i even} a_i·x·sin x + Σ_i a_i² x`.
#[differentiate(reverse, hessian)]
fn array_in_loop(a: [f64; 3], x: f64) -> f64 {
    let mut acc = x * x;
    for i in 0..3 {
        let mut h = [0.0; 2];
        h[0] = a[i] * x;
        if i % 2 == 0 {
            h[1] = x.sin();
        }
        acc += h[0] * h[1] + h[0] * a[i];
    }
    acc
}

#[test]
fn array_declared_in_a_loop_has_the_hessian_by_hand() {
    let (a, x) = ([0.7, -1.3, 0.4], 0.9_f64);
    let (value, d_a, d_x, hess) = array_in_loop_hessian(a, x);
    assert_eq!((value, d_a, d_x), array_in_loop_grad(a, x));
    // Order of the inputs: a[0], a[1], a[2], x.
    let mut want = [[0.0; 4]; 4];
    for i in 0..3 {
        let even = if i % 2 == 0 { 1.0 } else { 0.0 };
        want[i][i] = 2.0 * x;
        let d_ax = even * (x.sin() + x * x.cos()) + 2.0 * a[i];
        want[i][3] = d_ax;
        want[3][i] = d_ax;
        want[3][3] += even * a[i] * (2.0 * x.cos() - x * x.sin());
    }
    want[3][3] += 2.0;
    assert_hessian_close("array in loop", &hess, &want);
}

/// A parameter borrowed as `&[f64; N]`: `f_hessian` passes each direction by reference too.
/// `f = b₀² b₁ + c·b₁`, `H = [[2b₁, 2b₀], [2b₀, 0]]` over `(b₀, b₁)`, and `∂²f/∂b₁∂c = 1`.
#[differentiate(reverse, hessian)]
fn by_ref_array(b: &[f64; 2], c: f64) -> f64 {
    b[0] * b[0] * b[1] + c * b[1]
}

#[test]
fn arrays_by_reference_have_the_hessian_by_hand() {
    let (b, c) = ([0.7, -1.3], 2.5);
    let (value, db, dc, hess) = by_ref_array_hessian(&b, c);
    assert_eq!((value, db, dc), by_ref_array_grad(&b, c));
    let want = [
        [2.0 * b[1], 2.0 * b[0], 0.0],
        [2.0 * b[0], 0.0, 1.0],
        [0.0, 1.0, 0.0],
    ];
    assert_hessian_close("by_ref_array", &hess, &want);
    let (_, _, _, hv_b, hv_c) = by_ref_array_hvp(&b, &[1.0, -2.0], c, 0.5);
    for i in 0..2 {
        let row = want[i][0] - 2.0 * want[i][1] + 0.5 * want[i][2];
        assert_relative_eq!(hv_b[i], row, epsilon = 1e-14);
    }
    assert_relative_eq!(hv_c, want[2][0] - 2.0 * want[2][1], epsilon = 1e-14);
}

/// `Σ vᵢ²·vᵢ₊₁ + Σ sin vᵢ`: a slice helper with a loop.
#[differentiate(reverse, hessian)]
fn cubic_chain(v: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..v.len() {
        s += v[i].sin();
        if i + 1 < v.len() {
            s += v[i] * v[i] * v[i + 1];
        }
    }
    s
}

/// A fixed-size helper taken by value: `p₀ p₁ + exp(p₀)`.
#[differentiate(reverse, hessian)]
fn pair(p: [f64; 2]) -> f64 {
    p[0] * p[1] + p[0].exp()
}

/// A fixed-size helper taken by reference, with a float after it: `s·(w₀ + w₁ w₂)²`.
#[differentiate(reverse, hessian)]
fn weighted(w: &[f64; 3], s: f64) -> f64 {
    let t = w[0] + w[1] * w[2];
    s * t * t
}

/// An opaque slice function with hand-written derivatives: `Σ ln(1 + exp xᵢ)`.
fn softplus_sum(x: &[f64]) -> f64 {
    x.iter().map(|x| x.exp().ln_1p()).sum()
}

fn softplus_sum_grad(x: &[f64]) -> (f64, Vec<f64>) {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    (softplus_sum(x), x.iter().map(|&x| sigmoid(x)).collect())
}

fn softplus_sum_hvp(x: &[f64], v: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let (value, grad) = softplus_sum_grad(x);
    let hv = x
        .iter()
        .zip(v)
        .map(|(&x, &v)| sigmoid(x) * (1.0 - sigmoid(x)) * v)
        .collect();
    (value, grad, hv)
}

/// Calls with array and slice arguments, under second order: a local array overwritten in a
/// loop and passed whole, sub-slices of a parameter, an array by value built from parameters,
/// an array parameter passed on by reference, a constant array, and a hand-written `g_hvp`.
#[differentiate(reverse, hessian)]
fn array_calls(x: &[f64], w: &[f64; 3], y: f64) -> f64 {
    let mut h = [0.0; 2];
    let mut s = 0.0;
    for i in 0..x.len() {
        h[0] = x[i] * y;
        h[1] = x[i].sin();
        s += cubic_chain(&h) * y;
    }
    for i in 0..x.len() - 1 {
        s += cubic_chain(&x[i..i + 2]) * x[i];
    }
    let p = [y, x[0] * w[1]];
    let c = [0.5, -0.25, 2.0];
    s + pair(p) + weighted(w, y) + weighted(&c, y * x[1]) + softplus_sum(x) * y
}

#[test]
fn calls_with_array_arguments_go_through_the_callees_hvp() {
    // Over the flattened inputs (x₀, x₁, x₂, w₀, w₁, w₂, y).
    let grad = |z: [f64; 7]| {
        let (_, dx, dw, dy) = array_calls_grad(&z[..3], &[z[3], z[4], z[5]], z[6]);
        [dx[0], dx[1], dx[2], dw[0], dw[1], dw[2], dy]
    };
    for at in [
        [0.3, -0.8, 1.1, 0.5, -0.4, 0.9, 0.7],
        [-1.2, 0.4, 0.25, -0.3, 1.5, 0.2, -0.6],
    ] {
        let (x, w, y) = (&at[..3], [at[3], at[4], at[5]], at[6]);
        let (value, dx, dw, dy, hess) = array_calls_hessian(x, &w, y);
        assert_eq!((value, dx.clone(), dw, dy), array_calls_grad(x, &w, y));
        assert_eq!(hess.len(), 49);
        let fd = fd_hessian(grad, at);
        let mut got = [[0.0; 7]; 7];
        for i in 0..7 {
            for j in 0..7 {
                got[i][j] = hess[i * 7 + j];
            }
        }
        assert_hessian_close("array_calls", &got, &fd);
        // `H·v` along a direction, against the Hessian's rows.
        let v = [0.5, -1.0, 0.25, 2.0, -0.5, 1.0, -1.5];
        let (_, _, _, _, hv_x, hv_w, hv_y) =
            array_calls_hvp(x, &v[..3], &w, &[v[3], v[4], v[5]], y, v[6]);
        let hv: Vec<f64> = hv_x.iter().chain(&hv_w).chain([&hv_y]).copied().collect();
        for i in 0..7 {
            let row: f64 = (0..7).map(|j| got[i][j] * v[j]).sum();
            assert_relative_eq!(hv[i], row, epsilon = 1e-12, max_relative = 1e-12);
        }
    }
}

/// A call whose value only decides a branch: the reverse pass leaves it a plain call, and so
/// does second order (no tangent, no `g_jvp`, which `hessian` alone does not emit).
/// `f = x² y` where `sin(x y) > 0`, else `x y²`.
#[differentiate(reverse, hessian)]
fn call_in_condition(x: f64, y: f64) -> f64 {
    if helper(x, y).sin() > 0.0 {
        x * x * y
    } else {
        x * y * y
    }
}

#[test]
fn a_call_deciding_a_branch_needs_no_tangent() {
    for (x, y) in [(0.9, 1.3), (2.0, 1.0)] {
        let (value, dx, dy, hess) = call_in_condition_hessian(x, y);
        assert_eq!((value, dx, dy), call_in_condition_grad(x, y));
        let want = if (x * x * y).sin() > 0.0 {
            [[2.0 * y, 2.0 * x], [2.0 * x, 0.0]]
        } else {
            [[0.0, 2.0 * y], [2.0 * y, 2.0 * x]]
        };
        assert_eq!(hess, want);
    }
}

/// Constants in a struct, read as fields and passed whole to a helper, differentiated twice:
/// the struct is a parameter like any other, with no direction.
struct Shape {
    scale: f64,
    weights: [f64; 2],
    offsets: Vec<f64>,
}

#[differentiate(reverse, hessian)]
fn shaped(p: &Shape, u: f64) -> f64 {
    p.scale * u.sin() * u
}

/// `f = s·sin(x₀ y)·x₀ y + w₀ x₀² + w₁ x₁ y + Σ (x_i − o_i)²`.
#[differentiate(reverse, hessian)]
fn with_constants(p: &Shape, x: &[f64], y: f64) -> f64 {
    let mut s = shaped(p, x[0] * y) + p.weights[0] * x[0] * x[0] + p.weights[1] * x[1] * y;
    for i in 0..x.len() {
        let d = x[i] - p.offsets[i];
        s += d * d;
    }
    s
}

#[test]
fn constant_structs_pass_through_second_order() {
    let p = Shape {
        scale: 1.5,
        weights: [0.75, -2.0],
        offsets: vec![0.25, -0.5],
    };
    let (x, y) = ([0.6, -1.1], 0.8);
    let (value, dx, dy, hess) = with_constants_hessian(&p, &x, y);
    assert_eq!((value, dx.clone(), dy), with_constants_grad(&p, &x, y));
    // By hand: with z = x₀ y, g(z) = s z sin z, g'' = s (2 cos z − z sin z).
    let z = x[0] * y;
    let g1 = p.scale * (z.sin() + z * z.cos());
    let g2 = p.scale * (2.0 * z.cos() - z * z.sin());
    let want = [
        [g2 * y * y + 2.0 * p.weights[0] + 2.0, 0.0, g2 * z + g1],
        [0.0, 2.0, p.weights[1]],
        [g2 * z + g1, p.weights[1], g2 * x[0] * x[0]],
    ];
    for i in 0..3 {
        for j in 0..3 {
            assert_relative_eq!(
                hess[i * 3 + j],
                want[i][j],
                epsilon = 1e-12,
                max_relative = 1e-12
            );
        }
    }
}

#[differentiate(reverse, hessian)]
fn polar(x: f64, y: f64) -> f64 {
    x.hypot(y) + 2.0 * y.atan2(x)
}

/// `hypot` and `atan2` on the axes: the 0 · ∞ guard of their partials holds at the origin only,
/// so their second derivatives there are those of `x / r`, not of 0. By hand, with `r² = x² + y²`:
/// `∂²r = (y², −xy, x²) / r³`, `∂²θ = (2xy, y² − x², −2xy) / r⁴`.
#[test]
fn hypot_and_atan2_have_their_second_derivatives_on_the_axes() {
    for (x, y) in [(0.0, 2.0), (-1.5, 0.0), (0.0, -0.5), (0.6, -0.8)] {
        let (_, dx, dy, hess) = polar_hessian(x, y);
        let r2: f64 = x * x + y * y;
        let r = r2.sqrt();
        let r3 = r2 * r;
        let r4 = r2 * r2;
        assert_relative_eq!(dx, x / r - 2.0 * y / r2, epsilon = 1e-15);
        assert_relative_eq!(dy, y / r + 2.0 * x / r2, epsilon = 1e-15);
        let want = [
            [
                y * y / r3 + 2.0 * (2.0 * x * y) / r4,
                -x * y / r3 + 2.0 * (y * y - x * x) / r4,
            ],
            [
                -x * y / r3 + 2.0 * (y * y - x * x) / r4,
                x * x / r3 - 2.0 * (2.0 * x * y) / r4,
            ],
        ];
        for i in 0..2 {
            for j in 0..2 {
                assert_relative_eq!(
                    hess[i][j],
                    want[i][j],
                    epsilon = 1e-14,
                    max_relative = 1e-14
                );
            }
        }
    }
    // At the origin the convention: zero gradient and Hessian, not NaN.
    let (value, dx, dy, hess) = polar_hessian(0.0, 0.0);
    assert_eq!((value, dx, dy), (0.0, 0.0, 0.0));
    assert!(hess.iter().flatten().all(|h| h.is_finite()));
}

#[differentiate(reverse, hessian)]
fn power(x: f64, y: f64) -> f64 {
    x.powf(y)
}

/// `xʸ` at a varying exponent `y = 0`: `∂²/∂x∂y xʸ = xʸ⁻¹ (1 + y ln x)` is `1/x` there, not the 0
/// of the guard that keeps `0 · ∞` out of `∂/∂x` at `x = 0`.
#[test]
fn powf_has_its_mixed_derivative_at_a_zero_exponent() {
    for (x, y) in [(2.0_f64, 0.0_f64), (0.5, 0.0), (1.5, 1.25)] {
        let (value, dx, dy, hess) = power_hessian(x, y);
        assert_eq!(value, x.powf(y));
        assert_relative_eq!(dx, y * x.powf(y - 1.0), epsilon = 1e-15);
        assert_relative_eq!(dy, x.powf(y) * x.ln(), epsilon = 1e-15);
        let ln = x.ln();
        let want = [
            [
                y * (y - 1.0) * x.powf(y - 2.0),
                x.powf(y - 1.0) * (1.0 + y * ln),
            ],
            [x.powf(y - 1.0) * (1.0 + y * ln), x.powf(y) * ln * ln],
        ];
        for i in 0..2 {
            for j in 0..2 {
                assert_relative_eq!(
                    hess[i][j],
                    want[i][j],
                    epsilon = 1e-14,
                    max_relative = 1e-14
                );
            }
        }
    }
    // At `x = 0, y = 0` the convention: finite, no NaN.
    let (_, dx, _, _) = power_hessian(0.0, 0.0);
    assert_eq!(dx, 0.0);
}

#[differentiate(reverse, hessian)]
fn scaled_norm(a: f64, x: f64, y: f64) -> f64 {
    (a - 1.0) * (x * x + y * y).sqrt()
}

/// Where an adjoint is exactly 0 (`a = 1` here) but its derivative is not, the guard `0 · ∞ = 0`
/// of the gradient must not drop the derivative: `∂²f/∂a∂x = x / r`.
#[test]
fn a_zero_adjoint_keeps_its_derivative() {
    let (a, x, y) = (1.0, 0.6, -0.8);
    let (_, _, _, _, hess) = scaled_norm_hessian(a, x, y);
    let r = (x * x + y * y).sqrt();
    assert_relative_eq!(hess[0][1], x / r, epsilon = 1e-14);
    assert_relative_eq!(hess[0][2], y / r, epsilon = 1e-14);
    assert_relative_eq!(hess[1][0], x / r, epsilon = 1e-14);
}

/// A loop in a function with a singular local derivative (`sqrt`): its adjoint variables may be
/// infinite, so the partial `-sin(x·acc)` of `cos` is guarded, and at `x = 0` it is exactly 0
/// (the guard's factor a negation). Its derivative `-cos(x·acc)·acc` is not.
#[differentiate(reverse, hessian)]
fn cos_in_loop(x: f64, y: f64) -> f64 {
    let mut acc = y.sqrt();
    for _ in 0..2 {
        acc += (x * acc).cos();
    }
    acc
}

#[test]
fn a_guarded_zero_partial_keeps_its_derivative() {
    for (x, y) in [(0.0, 2.0), (0.0, 0.5), (0.3, 2.0)] {
        let (_, _, _, hess) = cos_in_loop_hessian(x, y);
        let fd = fd_hessian(
            |[x, y]| {
                let (_, dx, dy) = cos_in_loop_grad(x, y);
                [dx, dy]
            },
            [x, y],
        );
        assert_hessian_close("cos_in_loop", &hess, &fd);
    }
}

/// An adjoint the reverse pass builds as it flushes a sum, inside an expression and never
/// placed as a statement of its own (`d_t6·(2t²)·t + d_t6·(2t²)·t`, folded to `d_t6·(4t²)·t`):
/// its tangent is built where it is used, not taken for a constant's.
#[differentiate(reverse, hessian)]
fn unplaced_adjoint(a: &[f64], y: f64) -> f64 {
    let mut acc: f64 = a[0] + y;
    for i in 0..3 {
        for _ in 0..2 {
            acc += acc.atan();
        }
        let t = (a[i] * a[i]).powi(2);
        acc += t.atan();
    }
    acc
}

#[test]
fn adjoints_built_inside_expressions_have_tangents() {
    let at = [-0.36, -1.84, 1.83, -0.69];
    let (_, _, _, hess) = unplaced_adjoint_hessian(&at[..3], at[3]);
    let fd = fd_hessian(
        |z: [f64; 4]| {
            let (_, da, dy) = unplaced_adjoint_grad(&z[..3], z[3]);
            [da[0], da[1], da[2], dy]
        },
        at,
    );
    let mut got = [[0.0; 4]; 4];
    for i in 0..4 {
        for j in 0..4 {
            got[i][j] = hess[i * 4 + j];
        }
    }
    assert_hessian_close("unplaced_adjoint", &got, &fd);
}

/// A model whose fields are constants: `self` is read, never differentiated.
struct Model {
    scale: f64,
    bias: f64,
    weights: [f64; 3],
}

impl Model {
    /// `a(z) = tanh(s z + b)`.
    #[differentiate(reverse, hessian)]
    fn activation(&self, z: f64) -> f64 {
        (self.scale * z + self.bias).tanh()
    }

    /// `L = (a(w x) − ½)² + Σ wᵢ yᵢ²`, calling the method above.
    #[differentiate(reverse, hessian)]
    fn loss(&self, w: f64, x: f64, y: &[f64]) -> f64 {
        let a = self.activation(w * x);
        let mut s = (a - 0.5).powi(2);
        for i in 0..y.len() {
            s += self.weights[i] * y[i] * y[i];
        }
        s
    }
}

#[test]
fn methods_have_the_hessian_by_hand() {
    let m = Model {
        scale: 0.8,
        bias: -0.3,
        weights: [1.5, -0.5, 2.0],
    };
    // `a = tanh(u)`, `u = s z + b`: `a' = s (1 − a²)`, `a'' = −2 s² a (1 − a²)`.
    let z = 0.7;
    let a = (m.scale * z + m.bias).tanh();
    let (value, dz, hess) = m.activation_hessian(z);
    assert_relative_eq!(value, a, max_relative = 1e-15);
    assert_relative_eq!(dz, m.scale * (1.0 - a * a), max_relative = 1e-14);
    let second = -2.0 * m.scale * m.scale * a * (1.0 - a * a);
    assert_relative_eq!(hess[0][0], second, max_relative = 1e-13);
    let (_, _, hv) = m.activation_hvp(z, -2.0);
    assert_relative_eq!(hv, -2.0 * second, max_relative = 1e-13);

    // `L(w, x, y) = g(a(w x)) + Σ cᵢ yᵢ²` with `g(a) = (a − ½)²`: with `h(t) = g(a(t))`,
    // `h' = 2 (a − ½) a'`, `h'' = 2 a'² + 2 (a − ½) a''`, and `t = w x`:
    // `∂²L/∂w² = x² h''`, `∂²L/∂w∂x = h' + w x h''`, `∂²L/∂x² = w² h''`, `∂²L/∂yᵢ² = 2 cᵢ`.
    let (w, x, y) = (1.1, -0.6, [0.4, -1.2, 0.9]);
    let t = w * x;
    let a = (m.scale * t + m.bias).tanh();
    let a1 = m.scale * (1.0 - a * a);
    let a2 = -2.0 * m.scale * m.scale * a * (1.0 - a * a);
    let h1 = 2.0 * (a - 0.5) * a1;
    let h2 = 2.0 * a1 * a1 + 2.0 * (a - 0.5) * a2;
    let mut want = [[0.0; 5]; 5];
    want[0][0] = x * x * h2;
    want[0][1] = h1 + w * x * h2;
    want[1][0] = want[0][1];
    want[1][1] = w * w * h2;
    for i in 0..3 {
        want[2 + i][2 + i] = 2.0 * m.weights[i];
    }
    let (value, dw, dx, dy, hess) = m.loss_hessian(w, x, &y);
    assert_eq!((value, dw, dx, dy.clone()), m.loss_grad(w, x, &y));
    let mut got = [[0.0; 5]; 5];
    for i in 0..5 {
        for j in 0..5 {
            got[i][j] = hess[i * 5 + j];
        }
    }
    assert_hessian_close("loss", &got, &want);
    // `H·v` through the allocating `f_hvp` and `f_hvp_into`: against `hess · v`.
    let v = [0.3, -1.0, 0.5, 2.0, -0.7];
    let (_, _, _, _, hw, hx, hy) = m.loss_hvp(w, v[0], x, v[1], &y, &v[2..]);
    let hv: Vec<f64> = [hw, hx].into_iter().chain(hy).collect();
    for i in 0..5 {
        let want: f64 = (0..5).map(|j| got[i][j] * v[j]).sum();
        assert_relative_eq!(hv[i], want, max_relative = 1e-12, epsilon = 1e-14);
    }
}

// Mixed precision: `f_hvp`'s directions and `H·v` entries have each parameter's type, and
// `f_hessian`'s `hess` has the output's type, as `f_jacobian`'s `jac` does.

/// `x·y` with `x` an `f32`: gradient `(y, x)`, `H = [[0, 1], [1, 0]]`.
#[differentiate(reverse, forward, hessian)]
fn mixed_second(x: f32, y: f64) -> f64 {
    let a: f64 = x.into();
    a * y
}

#[allow(clippy::cast_possible_truncation)]
#[test]
fn mixed_f32_and_f64_parameters_with_an_f64_output() {
    for (x, y) in [(2.0_f32, 3.0_f64), (-1.5, 0.25), (0.0, 0.0)] {
        let xd = f64::from(x);
        let (value, dx, dy): (f64, f32, f64) = mixed_second_grad(x, y);
        assert_relative_eq!(value, xd * y);
        assert_relative_eq!(dx, y as f32);
        assert_relative_eq!(dy, xd);
        for (vx, vy) in [(1.0_f32, 0.0_f64), (0.0, 1.0), (0.5, -2.0), (-3.0, 0.75)] {
            let (v, gx, gy, hx, hy): (f64, f32, f64, f32, f64) = mixed_second_hvp(x, vx, y, vy);
            assert_eq!((v, gx, gy), (value, dx, dy));
            // H·v = (v_y, v_x).
            assert_relative_eq!(hx, vy as f32, max_relative = 1e-6);
            assert_relative_eq!(hy, f64::from(vx), max_relative = 1e-6);
        }
        let (v, gx, gy, hess): (f64, f32, f64, [[f64; 2]; 2]) = mixed_second_hessian(x, y);
        assert_eq!((v, gx, gy), (value, dx, dy));
        assert_eq!(hess, [[0.0, 1.0], [1.0, 0.0]]);
        let (v, t) = mixed_second_jvp(x, 1.0, y, 0.0);
        assert_relative_eq!(v, value);
        assert_relative_eq!(t, y);
    }
}

/// `x·y²` in `f32` with `x` an `f64`: gradient `(y², 2xy)`, `H = [[0, 2y], [2y, 2x]]`.
#[allow(clippy::cast_possible_truncation)]
#[differentiate(reverse, hessian)]
fn mixed_f32_output(x: f64, y: f32) -> f32 {
    let b: f32 = y;
    (x as f32) * b * b
}

#[allow(clippy::cast_possible_truncation)]
#[test]
fn mixed_f64_parameter_with_an_f32_output() {
    for (x, y) in [(2.0_f64, 3.0_f32), (-1.5, 0.25), (0.5, -1.25)] {
        let xs = x as f32;
        let (value, dx, dy): (f32, f64, f32) = mixed_f32_output_grad(x, y);
        assert_relative_eq!(value, xs * y * y, max_relative = 1e-6);
        assert_relative_eq!(dx, f64::from(y * y), max_relative = 1e-6);
        assert_relative_eq!(dy, 2.0 * xs * y, max_relative = 1e-6);
        let want = [[0.0, 2.0 * y], [2.0 * y, 2.0 * xs]];
        for (vx, vy) in [(1.0_f64, 0.0_f32), (0.0, 1.0), (0.5, -2.0), (-3.0, 0.75)] {
            let (v, gx, gy, hx, hy): (f32, f64, f32, f64, f32) = mixed_f32_output_hvp(x, vx, y, vy);
            assert_eq!((v, gx, gy), (value, dx, dy));
            let v32 = [vx as f32, vy];
            let hv: Vec<f32> = (0..2)
                .map(|i| want[i][0] * v32[0] + want[i][1] * v32[1])
                .collect();
            assert_relative_eq!(hx, f64::from(hv[0]), max_relative = 1e-5, epsilon = 1e-6);
            assert_relative_eq!(hy, hv[1], max_relative = 1e-5, epsilon = 1e-6);
        }
        let (v, gx, gy, hess): (f32, f64, f32, [[f32; 2]; 2]) = mixed_f32_output_hessian(x, y);
        assert_eq!((v, gx, gy), (value, dx, dy));
        for i in 0..2 {
            for j in 0..2 {
                assert_relative_eq!(hess[i][j], want[i][j], max_relative = 1e-5, epsilon = 1e-6);
            }
        }
    }
}

/// `x₀·x₁·s` with `x` an `[f32; 2]`: over `(x₀, x₁, s)`,
/// `H = [[0, s, x₁], [s, 0, x₀], [x₁, x₀, 0]]`.
#[differentiate(reverse, hessian)]
fn mixed_array(x: [f32; 2], s: f64) -> f64 {
    let a: f64 = x[0].into();
    let b: f64 = f64::from(x[1]);
    a * b * s
}

/// `Σ xᵢ²·s` with `x` a slice of `f32`: `H[i][i] = 2s`, `H[i][s] = 2xᵢ`, `H[s][s] = 0`.
#[differentiate(reverse, hessian)]
fn mixed_slice(x: &[f32], s: f64) -> f64 {
    let mut t = 0.0;
    for i in 0..x.len() {
        let a: f64 = x[i].into();
        t += a * a * s;
    }
    t
}

/// `w₀·w₁·t²` in `f32` with `w` an `[f64; 2]`: over `(w₀, w₁, t)`,
/// `H = [[0, t², 2w₁t], [t², 0, 2w₀t], [2w₁t, 2w₀t, 2w₀w₁]]`.
#[allow(clippy::cast_possible_truncation)]
#[differentiate(reverse, hessian)]
fn mixed_f64_array_f32_output(w: [f64; 2], t: f32) -> f32 {
    let a = (w[0] * w[1]) as f32;
    a * t * t
}

#[allow(clippy::cast_possible_truncation)]
#[test]
fn mixed_precision_arrays_and_slices() {
    let (x, s) = ([1.5_f32, -0.5], 2.0_f64);
    let (x0, x1) = (f64::from(x[0]), f64::from(x[1]));
    let want = [[0.0, s, x1], [s, 0.0, x0], [x1, x0, 0.0]];
    let (value, dx, ds): (f64, [f32; 2], f64) = mixed_array_grad(x, s);
    assert_relative_eq!(value, x0 * x1 * s);
    assert_eq!(dx, [(x1 * s) as f32, (x0 * s) as f32]);
    assert_relative_eq!(ds, x0 * x1);
    for v in [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, -2.0, 0.25]] {
        let (_, _, _, hx, hs): (f64, [f32; 2], f64, [f32; 2], f64) =
            mixed_array_hvp(x, [v[0] as f32, v[1] as f32], s, v[2]);
        let hv: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|j| want[i][j] * v[j]).sum())
            .collect();
        assert_relative_eq!(f64::from(hx[0]), hv[0], max_relative = 1e-6);
        assert_relative_eq!(f64::from(hx[1]), hv[1], max_relative = 1e-6);
        assert_relative_eq!(hs, hv[2], max_relative = 1e-12);
    }
    let (v, gx, gs, hess): (f64, [f32; 2], f64, [[f64; 3]; 3]) = mixed_array_hessian(x, s);
    assert_eq!((v, gx, gs), (value, dx, ds));
    assert_eq!(hess, want);

    // The slice: `hess` a `Vec<f64>` of length 16, row-major over `(x₀, x₁, x₂, s)`.
    let (x, s) = ([0.5_f32, -1.25, 2.0], 1.5_f64);
    let mut want = [[0.0; 4]; 4];
    for i in 0..3 {
        want[i][i] = 2.0 * s;
        want[i][3] = 2.0 * f64::from(x[i]);
        want[3][i] = want[i][3];
    }
    let sum: f64 = x.iter().map(|&a| f64::from(a) * f64::from(a)).sum();
    let (value, dx, ds): (f64, Vec<f32>, f64) = mixed_slice_grad(&x, s);
    assert_relative_eq!(value, sum * s);
    assert_relative_eq!(ds, sum);
    for i in 0..3 {
        assert_relative_eq!(dx[i], (2.0 * f64::from(x[i]) * s) as f32);
    }
    let v = [0.5_f64, -1.0, 2.0, 0.25];
    let vx: Vec<f32> = v[..3].iter().map(|&a| a as f32).collect();
    let (_, _, _, hx, hs): (f64, Vec<f32>, f64, Vec<f32>, f64) = mixed_slice_hvp(&x, &vx, s, v[3]);
    for i in 0..3 {
        let want: f64 = (0..4).map(|j| want[i][j] * v[j]).sum();
        assert_relative_eq!(f64::from(hx[i]), want, max_relative = 1e-6);
    }
    let want_s: f64 = (0..4).map(|j| want[3][j] * v[j]).sum();
    assert_relative_eq!(hs, want_s, max_relative = 1e-12);
    // Every row's `H·v` of `x` goes through one `f32` buffer: each row sees it zeroed again.
    let (v, gx, gs, hess): (f64, Vec<f32>, f64, Vec<f64>) = mixed_slice_hessian(&x, s);
    assert_eq!((v, gx, gs), (value, dx, ds));
    assert_eq!(hess.len(), 16);
    for i in 0..4 {
        for j in 0..4 {
            assert_relative_eq!(hess[i * 4 + j], want[i][j], max_relative = 1e-12);
        }
    }

    // An `f32` output with an `[f64; 2]`: `hess` is `[[f32; 3]; 3]`.
    let (w, t) = ([1.5_f64, -0.5], 2.0_f32);
    let (w0, w1) = (w[0] as f32, w[1] as f32);
    let want = [
        [0.0, t * t, 2.0 * w1 * t],
        [t * t, 0.0, 2.0 * w0 * t],
        [2.0 * w1 * t, 2.0 * w0 * t, 2.0 * w0 * w1],
    ];
    let (value, dw, dt): (f32, [f64; 2], f32) = mixed_f64_array_f32_output_grad(w, t);
    assert_relative_eq!(value, w0 * w1 * t * t, max_relative = 1e-6);
    assert_relative_eq!(dw[0], f64::from(w1 * t * t), max_relative = 1e-6);
    assert_relative_eq!(dw[1], f64::from(w0 * t * t), max_relative = 1e-6);
    assert_relative_eq!(dt, 2.0 * w0 * w1 * t, max_relative = 1e-6);
    for v in [[1.0_f32, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, -2.0, 0.25]] {
        let (_, _, _, hw, ht): (f32, [f64; 2], f32, [f64; 2], f32) =
            mixed_f64_array_f32_output_hvp(w, [f64::from(v[0]), f64::from(v[1])], t, v[2]);
        let hv: Vec<f32> = (0..3)
            .map(|i| (0..3).map(|j| want[i][j] * v[j]).sum())
            .collect();
        assert_relative_eq!(hw[0], f64::from(hv[0]), max_relative = 1e-5, epsilon = 1e-6);
        assert_relative_eq!(hw[1], f64::from(hv[1]), max_relative = 1e-5, epsilon = 1e-6);
        assert_relative_eq!(ht, hv[2], max_relative = 1e-5, epsilon = 1e-6);
    }
    let (v, gw, gt, hess): (f32, [f64; 2], f32, [[f32; 3]; 3]) =
        mixed_f64_array_f32_output_hessian(w, t);
    assert_eq!((v, gw, gt), (value, dw, dt));
    for i in 0..3 {
        for j in 0..3 {
            assert_relative_eq!(hess[i][j], want[i][j], max_relative = 1e-5, epsilon = 1e-6);
        }
    }
}

/// An array parameter the body stores into: f = 2 v₀ v₁ + w₀ (w₁ overwritten by 1).
#[differentiate(reverse, forward, hessian)]
fn stored_array_parameters(mut v: [f64; 2], mut w: [f64; 2]) -> f64 {
    v[0] *= 2.0;
    w[1] = 1.0;
    v[0] * v[1] + w[0] * w[1]
}

#[test]
fn parameters_stored_into_have_directions_stored_into() {
    let (v, w) = ([1.0, 3.0], [0.5, 7.0]);
    // ∇ = (2 v₁, 2 v₀ | 1, 0); H couples v₀ and v₁ by 2, nothing else.
    let (value, gv, gw, hv, hw) = stored_array_parameters_hvp(v, [1.0, -1.0], w, [2.0, 5.0]);
    assert_eq!(value, 2.0 * 1.0 * 3.0 + 0.5);
    assert_eq!((gv, gw), ([6.0, 2.0], [1.0, 0.0]));
    assert_eq!((hv, hw), ([-2.0, 2.0], [0.0, 0.0]));
    let (_, _, _, hess) = stored_array_parameters_hessian(v, w);
    let want = [
        [0.0, 2.0, 0.0, 0.0],
        [2.0, 0.0, 0.0, 0.0],
        [0.0; 4],
        [0.0; 4],
    ];
    assert_eq!(hess, want);
}

/// `1/x` written as a method.
#[differentiate(reverse, forward, hessian)]
fn recip_method(x: f64) -> f64 {
    x.recip()
}

/// `1/x` written as a division.
#[differentiate(reverse, hessian)]
fn recip_division(x: f64) -> f64 {
    1.0 / x
}

/// `∛x`, whose second derivative `-(2/9) x^(-5/3)` is infinite at 0.
#[differentiate(reverse, forward, hessian)]
fn cube_root(x: f64) -> f64 {
    x.cbrt()
}

#[test]
fn second_order_at_singular_points() {
    // Away from 0, against the closed forms: (1/x)' = -1/x², (1/x)'' = 2/x³;
    // ∛x' = 1/(3 ∛x²), ∛x'' = -2/(9 x ∛x²).
    for x in [0.5_f64, -1.7, 3.0, 1e-3] {
        let (v, g, h) = recip_method_hvp(x, 1.0);
        assert_relative_eq!(v, 1.0 / x);
        assert_relative_eq!(g, -1.0 / (x * x), max_relative = 1e-15);
        assert_relative_eq!(h, 2.0 / (x * x * x), max_relative = 1e-15);
        assert_eq!(recip_method_grad(x), (v, g));
        let (v, g, h) = cube_root_hvp(x, 1.0);
        let c = x.cbrt();
        assert_relative_eq!(v, c);
        assert_relative_eq!(g, 1.0 / (3.0 * c * c), max_relative = 1e-15);
        assert_relative_eq!(h, -2.0 / (9.0 * x * c * c), max_relative = 1e-14);
        let (_, t) = cube_root_jvp(x, 1.0);
        assert_relative_eq!(t, g, max_relative = 1e-15);
    }
    // At 0: along the zero direction, H·v is 0, as for `1.0 / x`.
    let (v, g, h) = recip_method_hvp(0.0, 0.0);
    assert_eq!((v, g), (f64::INFINITY, f64::NEG_INFINITY));
    assert_eq!(h, 0.0);
    assert_eq!(recip_division_hvp(0.0, 0.0).2, 0.0);
    assert_eq!(recip_method_hessian(0.0).2[0][0].abs(), f64::INFINITY);
    // ∛x'' is infinite at 0 (-∞ from the right), not 0.
    let (v, g, hess) = cube_root_hessian(0.0);
    assert_eq!((v, g), (0.0, f64::INFINITY));
    assert_eq!(hess[0][0], f64::NEG_INFINITY);
    assert_eq!(cube_root_hvp(0.0, 0.0), (0.0, f64::INFINITY, 0.0));
}

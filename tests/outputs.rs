//! Several outputs: `f_vjp`, `f_jacobian` and `f_jvp` of functions returning float arrays and
//! tuples. Every Jacobian is checked against central finite differences and against forward
//! mode column by column; every VJP against `seedᵀ·J`; values against the function itself.
#![allow(
    clippy::needless_range_loop,
    clippy::cast_precision_loss,
    clippy::manual_memcpy,
    clippy::cast_lossless
)]

use autodiff::differentiate;

/// Central finite differences of a function of a flat input vector.
fn fd(f: &dyn Fn(&[f64]) -> Vec<f64>, x: &[f64]) -> Vec<Vec<f64>> {
    let h = 1e-6;
    let m = f(x).len();
    let mut jac = vec![vec![0.0; x.len()]; m];
    for j in 0..x.len() {
        let mut xp = x.to_vec();
        let mut xm = x.to_vec();
        xp[j] += h;
        xm[j] -= h;
        let (fp, fm) = (f(&xp), f(&xm));
        for i in 0..m {
            jac[i][j] = (fp[i] - fm[i]) / (2.0 * h);
        }
    }
    jac
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[track_caller]
fn assert_matrix(got: &[Vec<f64>], want: &[Vec<f64>], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len());
        for (j, (a, b)) in g.iter().zip(w).enumerate() {
            assert!(close(*a, *b, tol), "entry ({i}, {j}): {a} vs {b}");
        }
    }
}

/// A loop and a branch: the outputs depend on which side of zero `x` is.
#[differentiate(reverse, forward)]
fn polar(x: f64, y: [f64; 3]) -> [f64; 2] {
    let mut s = 0.0;
    let mut p = 1.0;
    for i in 0..3 {
        s += y[i] * y[i];
        p *= y[i] + x;
    }
    if x > 0.0 {
        [s.sqrt() * x, p.sin()]
    } else {
        [s * x.exp(), p * x]
    }
}

fn polar_flat(v: &[f64]) -> Vec<f64> {
    polar(v[0], [v[1], v[2], v[3]]).to_vec()
}

fn to_rows<const N: usize, const M: usize>(jac: &[[f64; N]; M]) -> Vec<Vec<f64>> {
    jac.iter().map(|r| r.to_vec()).collect()
}

#[test]
fn polar_jacobian_matches_finite_differences_and_forward_mode() {
    for x in [0.7, -0.4] {
        let y = [0.3, -1.2, 0.8];
        let (value, jac) = polar_jacobian(x, y);
        assert_eq!(value, polar(x, y));
        let v = [x, y[0], y[1], y[2]];
        assert_matrix(&to_rows(&jac), &fd(&polar_flat, &v), 1e-6);
        // Forward mode, column by column.
        for j in 0..4 {
            let mut t = [0.0; 4];
            t[j] = 1.0;
            let (val, tangent) = polar_jvp(x, t[0], y, [t[1], t[2], t[3]]);
            assert_eq!(val, value);
            for i in 0..2 {
                assert!(close(tangent[i], jac[i][j], 1e-12), "({i}, {j})");
            }
        }
        // VJP against seedᵀ·J.
        let seed = [0.6, -1.7];
        let (val, d_x, d_y) = polar_vjp(x, y, seed);
        assert_eq!(val, value);
        let want: Vec<f64> = (0..4)
            .map(|j| seed[0] * jac[0][j] + seed[1] * jac[1][j])
            .collect();
        assert!(close(d_x, want[0], 1e-12));
        for k in 0..3 {
            assert!(close(d_y[k], want[k + 1], 1e-12));
        }
    }
}

/// More outputs than inputs: the Jacobian is built by forward sweeps; early `return` in a loop.
#[differentiate(reverse, forward)]
fn tall(x: f64, y: f64) -> [f64; 3] {
    let mut h = [0.0; 3];
    for i in 0..3 {
        h[i] = x * (i as f64) + y * y;
        if h[i] > 10.0 {
            return [h[i], x, y];
        }
    }
    h
}

fn tall_flat(v: &[f64]) -> Vec<f64> {
    tall(v[0], v[1]).to_vec()
}

#[test]
fn tall_jacobian_early_return_and_local_array() {
    for (x, y) in [(0.5, 1.5), (6.0, 0.5), (1.0, 4.0)] {
        let (value, jac) = tall_jacobian(x, y);
        assert_eq!(value, tall(x, y));
        assert_matrix(&to_rows(&jac), &fd(&tall_flat, &[x, y]), 1e-6);
        let seed = [1.0, -2.0, 0.5];
        let (val, d_x, d_y) = tall_vjp(x, y, seed);
        assert_eq!(val, value);
        let want_x: f64 = (0..3).map(|i| seed[i] * jac[i][0]).sum();
        let want_y: f64 = (0..3).map(|i| seed[i] * jac[i][1]).sum();
        assert!(close(d_x, want_x, 1e-12) && close(d_y, want_y, 1e-12));
        let (_, t) = tall_jvp(x, 0.0, y, 1.0);
        for i in 0..3 {
            assert!(close(t[i], jac[i][1], 1e-12));
        }
    }
}

/// `f32` in, `f32` out.
#[differentiate(reverse, forward)]
fn rot32(a: f32, r: f32) -> [f32; 2] {
    [r * a.cos(), r * a.sin()]
}

#[test]
fn f32_outputs() {
    let (a, r) = (0.3f32, 2.0f32);
    let (value, jac) = rot32_jacobian(a, r);
    assert_eq!(value, rot32(a, r));
    // Closed form: ∂(r cos a, r sin a)/∂(a, r).
    let want = [[-r * a.sin(), a.cos()], [r * a.cos(), a.sin()]];
    for i in 0..2 {
        for j in 0..2 {
            assert!((jac[i][j] - want[i][j]).abs() < 1e-6);
        }
    }
    let (_, d_a, d_r) = rot32_vjp(a, r, [1.0, 0.0]);
    assert!((d_a - want[0][0]).abs() < 1e-6 && (d_r - want[0][1]).abs() < 1e-6);
    let (_, t) = rot32_jvp(a, 1.0, r, 0.0);
    assert!((t[0] - want[0][0]).abs() < 1e-6 && (t[1] - want[1][0]).abs() < 1e-6);
}

/// A tuple output: flattened as its elements, then array elements.
#[differentiate(reverse, forward)]
fn pair(x: f64, y: [f64; 2]) -> (f64, [f64; 2]) {
    let s = x * y[0] + y[1];
    (s.tanh(), [x * x, y[0] / y[1]])
}

fn pair_flat(v: &[f64]) -> Vec<f64> {
    let (a, b) = pair(v[0], [v[1], v[2]]);
    vec![a, b[0], b[1]]
}

#[test]
fn tuple_outputs() {
    let (x, y) = (0.4, [1.3, -0.7]);
    let (value, jac) = pair_jacobian(x, y);
    assert_eq!(value, pair(x, y));
    assert_matrix(&to_rows(&jac), &fd(&pair_flat, &[x, y[0], y[1]]), 1e-6);
    let seed = (0.5, [2.0, -1.0]);
    let (val, d_x, d_y) = pair_vjp(x, y, seed);
    assert_eq!(val, value);
    let flat_seed = [0.5, 2.0, -1.0];
    let want: Vec<f64> = (0..3)
        .map(|j| (0..3).map(|i| flat_seed[i] * jac[i][j]).sum())
        .collect();
    assert!(close(d_x, want[0], 1e-12));
    assert!(close(d_y[0], want[1], 1e-12) && close(d_y[1], want[2], 1e-12));
    for j in 0..3 {
        let mut t = [0.0; 3];
        t[j] = 1.0;
        let (val, (t0, t1)) = pair_jvp(x, t[0], y, [t[1], t[2]]);
        assert_eq!(val, value);
        assert!(close(t0, jac[0][j], 1e-12));
        assert!(close(t1[0], jac[1][j], 1e-12) && close(t1[1], jac[2][j], 1e-12));
    }
}

/// Slices: the Jacobian is a row-major vector, `_into` forms write into buffers.
#[differentiate(reverse, forward)]
fn moments(w: &[f64], b: f64) -> [f64; 2] {
    let mut s = 0.0;
    let mut q = 0.0;
    for i in 0..w.len() {
        s += w[i] * b;
        q += w[i] * w[i];
    }
    [s, q.sqrt()]
}

fn moments_flat(v: &[f64]) -> Vec<f64> {
    let n = v.len() - 1;
    moments(&v[..n], v[n]).to_vec()
}

#[test]
fn slice_inputs() {
    for w in [vec![0.5, -1.0, 2.0], vec![1.5]] {
        let b = 0.7;
        let n = w.len() + 1;
        let (value, jac) = moments_jacobian(&w, b);
        assert_eq!(value, moments(&w, b));
        assert_eq!(jac.len(), 2 * n);
        let rows: Vec<Vec<f64>> = jac.chunks(n).map(<[f64]>::to_vec).collect();
        let mut v = w.clone();
        v.push(b);
        assert_matrix(&rows, &fd(&moments_flat, &v), 1e-6);
        // `_into` overwrites.
        let mut buf = vec![9.0; 2 * n];
        assert_eq!(moments_jacobian_into(&w, b, &mut buf), value);
        assert_eq!(buf, jac);
        // VJPs.
        let seed = [0.3, 1.1];
        let (val, d_w, d_b) = moments_vjp(&w, b, seed);
        assert_eq!(val, value);
        for j in 0..n {
            let want = seed[0] * rows[0][j] + seed[1] * rows[1][j];
            let got = if j < w.len() { d_w[j] } else { d_b };
            assert!(close(got, want, 1e-12));
        }
        let mut acc = vec![1.0; w.len()];
        let (_, d_b2) = moments_vjp_into(&w, &mut acc, b, seed);
        assert_eq!(d_b2, d_b);
        for j in 0..w.len() {
            assert!(close(acc[j], 1.0 + d_w[j], 1e-12));
        }
        // Forward mode along the direction of `b`.
        let zeros = vec![0.0; w.len()];
        let (_, t) = moments_jvp(&w, &zeros, b, 1.0);
        assert!(close(t[0], rows[0][n - 1], 1e-12) && close(t[1], rows[1][n - 1], 1e-12));
    }
}

/// A helper that writes an out-parameter from a local array filled in a loop: the array reaches
/// the output through the out-parameter, so it is active.
#[differentiate(reverse)]
fn spread_into(x: f64, out: &mut [f64]) {
    let mut h = [0.0; 3];
    for i in 0..3 {
        h[i] = x * x * (i as f64 + 1.0);
    }
    for i in 0..3 {
        out[i] = h[i];
    }
}

#[test]
fn out_parameter_written_from_a_local_array() {
    let x = 0.8;
    let mut out = [0.0; 3];
    let mut d_out = [1.0, 2.0, 3.0];
    let (d_x,) = spread_into_vjp_into(x, &mut out, &mut d_out);
    // ∂out_i/∂x = 2x(i + 1): seedᵀ·J = 2x(1 + 4 + 9).
    assert!(close(d_x, 2.0 * x * 14.0, 1e-12));
    assert_eq!(d_out, [0.0; 3]);
}

/// Public functions with several outputs: their generated siblings are warning-free under the
/// strictest lints a user may set.
#[deny(
    warnings,
    missing_docs,
    unused_qualifications,
    unused_results,
    clippy::all,
    clippy::pedantic
)]
// The user's own loops index their arrays.
#[allow(clippy::needless_range_loop)]
pub mod lints {
    use autodiff::differentiate;

    /// The length of a constant-sized input.
    pub const K: usize = 3;

    /// Two outputs of a constant-sized array.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn stats(x: [f64; K], c: f64) -> [f64; 2] {
        let mut s = 0.0;
        let mut q = 0.0;
        for i in 0..K {
            s += x[i] * c;
            q += x[i] * x[i];
        }
        [s, q]
    }

    /// A tuple output of `f32`s.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn pair32(x: f32, y: &[f32; 2]) -> (f32, [f32; 2]) {
        if x > 0.0 {
            return (x * y[0], [y[1], x]);
        }
        (y[0], [x * x, y[1] * 2.0])
    }

    /// Slice inputs and an inactive integer.
    #[differentiate(reverse, forward)]
    #[must_use]
    pub fn sums(w: &[f64], b: f64, k: usize) -> [f64; 3] {
        let mut h = [0.0; 3];
        for i in 0..w.len() {
            h[i % 3] += w[i] * b + w[k];
        }
        h
    }
}

#[test]
fn constant_sizes_references_and_inactive_parameters() {
    use lints::{pair32, pair32_jacobian, stats, stats_jacobian, sums, sums_jacobian};
    let x = [0.5, -1.0, 2.0];
    let (v, jac) = stats_jacobian(x, 1.5);
    assert_eq!(v, stats(x, 1.5));
    let flat = |v: &[f64]| stats([v[0], v[1], v[2]], v[3]).to_vec();
    assert_matrix(&to_rows(&jac), &fd(&flat, &[0.5, -1.0, 2.0, 1.5]), 1e-6);

    for a in [0.5f32, -0.5] {
        let y = [1.5f32, -2.0];
        let (v, jac) = pair32_jacobian(a, &y);
        assert_eq!(v, pair32(a, &y));
        // Closed forms of the two branches.
        let want = if a > 0.0 {
            [[y[0], a, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
        } else {
            [[0.0, 1.0, 0.0], [2.0 * a, 0.0, 0.0], [0.0, 0.0, 2.0]]
        };
        assert_eq!(jac, want);
    }

    let w = [0.5, -1.0, 2.0, 0.25];
    let (v, jac) = sums_jacobian(&w, 0.3, 2);
    assert_eq!(v, sums(&w, 0.3, 2));
    let flat = |v: &[f64]| sums(&v[..4], v[4], 2).to_vec();
    let rows: Vec<Vec<f64>> = jac.chunks(5).map(<[f64]>::to_vec).collect();
    assert_matrix(&rows, &fd(&flat, &[0.5, -1.0, 2.0, 0.25, 0.3]), 1e-6);
}

/// A callee with an array output.
#[differentiate(reverse, forward)]
fn rot(a: f64, r: f64) -> [f64; 2] {
    [r * a.cos(), r * a.sin()]
}

/// A callee with a tuple output.
#[differentiate(reverse, forward)]
fn two(x: f64) -> (f64, f64) {
    (x.sin(), x * x)
}

/// Calls with several outputs, one in a loop, inside a function with one output.
#[differentiate(reverse, forward)]
fn calls_rot(x: f64, y: f64) -> f64 {
    let [a, b] = rot(x, y);
    let mut s = a * b;
    for i in 0..3 {
        let (u, v) = two(s + x * (i as f64));
        s += u * v;
    }
    s
}

/// A call inside a function with several outputs.
#[differentiate(reverse, forward)]
fn chain(x: f64, y: [f64; 2]) -> [f64; 2] {
    let [a, b] = rot(x, y[0]);
    let (u, mut v) = two(b * y[1]);
    v += a;
    let mut w = [0.0; 2];
    w[0] = v;
    w[1] = a;
    let (p, q): (f64, [f64; 2]) = pair(u, w);
    [p * q[0], v + q[1]]
}

fn calls_rot_flat(v: &[f64]) -> Vec<f64> {
    vec![calls_rot(v[0], v[1])]
}

fn chain_flat(v: &[f64]) -> Vec<f64> {
    chain(v[0], [v[1], v[2]]).to_vec()
}

#[test]
fn calls_go_through_the_callee_derivatives() {
    let (x, y) = (0.4, 1.3);
    let (value, d_x, d_y) = calls_rot_grad(x, y);
    assert_eq!(value, calls_rot(x, y));
    let want = fd(&calls_rot_flat, &[x, y]);
    assert!(close(d_x, want[0][0], 1e-6) && close(d_y, want[0][1], 1e-6));
    let (v, t) = calls_rot_jvp(x, 1.0, y, 0.0);
    assert_eq!(v, value);
    assert!(close(t, d_x, 1e-12));

    let y = [0.7, -0.9];
    let (value, jac) = chain_jacobian(x, y);
    assert_eq!(value, chain(x, y));
    assert_matrix(&to_rows(&jac), &fd(&chain_flat, &[x, y[0], y[1]]), 1e-6);
    for j in 0..3 {
        let mut t = [0.0; 3];
        t[j] = 1.0;
        let (_, tangent) = chain_jvp(x, t[0], y, [t[1], t[2]]);
        assert!(close(tangent[0], jac[0][j], 1e-12) && close(tangent[1], jac[1][j], 1e-12));
    }
}

/// A slice of run-time length: `f_jacobian` takes forward sweeps for one element and reverse
/// sweeps for five.
#[differentiate(reverse, forward)]
fn three_of(w: &[f64]) -> [f64; 3] {
    let mut s = 0.0;
    let mut p = 1.0;
    for i in 0..w.len() {
        s += w[i].sin();
        p *= w[i];
    }
    [s, p, s * p]
}

#[test]
fn slice_jacobian_in_either_mode() {
    for w in [vec![0.8], vec![0.5, -1.0, 2.0, 0.3, 1.1]] {
        let n = w.len();
        let (value, jac) = three_of_jacobian(&w);
        assert_eq!(value, three_of(&w));
        let rows: Vec<Vec<f64>> = jac.chunks(n).map(<[f64]>::to_vec).collect();
        let flat = |v: &[f64]| three_of(v).to_vec();
        assert_matrix(&rows, &fd(&flat, &w), 1e-6);
        for j in 0..n {
            let mut t = vec![0.0; n];
            t[j] = 1.0;
            let (_, tangent) = three_of_jvp(&w, &t);
            for i in 0..3 {
                assert!(close(tangent[i], rows[i][j], 1e-12));
            }
        }
    }
}

#[test]
fn fixed_sizes_do_not_allocate() {
    use std::hint::black_box;
    let info = allocation_counter::measure(|| {
        let _ = black_box(polar_jacobian(black_box(0.7), [0.3, -1.2, 0.8]));
        let _ = black_box(tall_jacobian(black_box(0.5), 1.5));
        let _ = black_box(pair_vjp(black_box(0.4), [1.3, -0.7], (1.0, [0.5, 0.25])));
        let _ = black_box(pair_jvp(black_box(0.4), 1.0, [1.3, -0.7], [0.0, 1.0]));
    });
    assert_eq!(info.count_total, 0);
}

/// The size of the stencil's state: with the coupling constant, 21 columns, more than one
/// forward sweep in lanes carries.
const STATE: usize = 20;

/// A discretised `ẍ = k x'' − sin x` right-hand side: `f_jacobian` takes two forward sweeps in
/// lanes (16 columns, then 5).
#[differentiate(reverse, forward)]
fn stencil(x: [f64; STATE], k: f64) -> [f64; STATE] {
    let mut dx = [0.0; STATE];
    for i in 1..STATE - 1 {
        dx[i] = k * (x[i - 1] - 2.0 * x[i] + x[i + 1]) - x[i].sin();
    }
    dx[0] = -x[0];
    dx[STATE - 1] = k * x[STATE - 2] - x[STATE - 1];
    dx
}

fn stencil_flat(v: &[f64]) -> Vec<f64> {
    let x: [f64; STATE] = std::array::from_fn(|i| v[i]);
    stencil(x, v[STATE]).to_vec()
}

#[test]
fn jacobians_wider_than_a_sweep() {
    let x: [f64; STATE] = std::array::from_fn(|i| (i as f64 * 0.7).sin());
    let k = 1.3;
    let (value, jac) = stencil_jacobian(x, k);
    assert_eq!(value, stencil(x, k));
    let rows = to_rows(&jac);
    let mut at = x.to_vec();
    at.push(k);
    assert_matrix(&rows, &fd(&stencil_flat, &at), 1e-6);
    // Against reverse mode, row by row, and forward mode, column by column.
    for i in 0..STATE {
        let mut seed = [0.0; STATE];
        seed[i] = 1.0;
        let (_, d_x, d_k) = stencil_vjp(x, k, seed);
        for j in 0..STATE {
            assert!(close(d_x[j], rows[i][j], 1e-12), "({i}, {j})");
        }
        assert!(close(d_k, rows[i][STATE], 1e-12));
    }
    for j in 0..=STATE {
        let mut t = [0.0; STATE];
        let t_k = if j == STATE { 1.0 } else { 0.0 };
        if j < STATE {
            t[j] = 1.0;
        }
        let (_, tangent) = stencil_jvp(x, t, k, t_k);
        for i in 0..STATE {
            assert!(close(tangent[i], rows[i][j], 1e-12), "({i}, {j})");
        }
    }
}

/// Twelve weighted sums of a slice: `f_jacobian` takes forward sweeps in lanes, eight columns a
/// sweep, while they are fewer than half the rows, and reverse sweeps beyond.
#[differentiate(reverse, forward)]
fn weighted(w: &[f64], b: f64) -> [f64; 12] {
    let mut out = [0.0; 12];
    for k in 0..12 {
        let mut s = b * k as f64;
        for i in 0..w.len() {
            s += (w[i] * (k + i) as f64 * 0.1).cos() * w[i];
        }
        out[k] = s.tanh();
    }
    out
}

#[test]
fn slice_jacobians_in_lanes_and_in_reverse() {
    for len in [3, 20, 60] {
        let mut v: Vec<f64> = (0..len).map(|i| (i as f64 * 1.3).cos()).collect();
        v.push(0.4);
        let (w, b) = (&v[..len], v[len]);
        let (value, jac) = weighted_jacobian(w, b);
        assert_eq!(value, weighted(w, b));
        let rows: Vec<Vec<f64>> = jac.chunks(len + 1).map(<[f64]>::to_vec).collect();
        let flat = |v: &[f64]| weighted(&v[..len], v[len]).to_vec();
        assert_matrix(&rows, &fd(&flat, &v), 1e-6);
        for i in 0..12 {
            let mut seed = [0.0; 12];
            seed[i] = 1.0;
            let (_, d_w, d_b) = weighted_vjp(w, b, seed);
            for j in 0..len {
                assert!(close(d_w[j], rows[i][j], 1e-12), "len {len}: ({i}, {j})");
            }
            assert!(close(d_b, rows[i][len], 1e-12));
        }
    }
}

/// Every kind of tangent forward mode writes in lanes: selects of `abs`, `max` and a branch, the
/// `0 · ∞` guard of `sqrt` and `hypot`, `powf`, a `while` loop, an early return.
#[differentiate(reverse, forward)]
fn kinds(x: [f64; 3]) -> [f64; 6] {
    let r = (x[0] * x[0] + x[1] * x[1]).sqrt();
    let h = x[1].hypot(x[2]);
    if x[2] > 5.0 {
        return [r, h, 0.0, 0.0, 0.0, 0.0];
    }
    let mut s = x[2].abs();
    let mut n = 0;
    while n < 3 {
        s = s * 0.5 + x[0].max(x[1]);
        n += 1;
    }
    let p = (x[0] * x[0] + 1.0).powf(x[1]);
    let q = if x[0] > x[1] { x[0] * x[2] } else { -x[2] };
    [r, h, s, p, q, r * h - q]
}

fn kinds_flat(v: &[f64]) -> Vec<f64> {
    kinds([v[0], v[1], v[2]]).to_vec()
}

#[test]
fn every_kind_of_tangent_in_lanes() {
    for x in [[0.3, -1.2, 0.8], [1.5, 0.2, -0.7], [-0.4, 0.9, 6.0]] {
        let (value, jac) = kinds_jacobian(x);
        assert_eq!(value, kinds(x));
        assert_matrix(&to_rows(&jac), &fd(&kinds_flat, &x), 1e-6);
        for j in 0..3 {
            let mut t = [0.0; 3];
            t[j] = 1.0;
            let (_, tangent) = kinds_jvp(x, t);
            for i in 0..6 {
                assert!(close(tangent[i], jac[i][j], 1e-12), "({i}, {j})");
            }
        }
    }
    // At the origin of `sqrt(x² + y²)` and `hypot(y, z)`: zero, not NaN, as `f_jvp` gives.
    let (_, jac) = kinds_jacobian([0.0, 0.0, 0.0]);
    for j in 0..3 {
        let mut t = [0.0; 3];
        t[j] = 1.0;
        let (_, tangent) = kinds_jvp([0.0, 0.0, 0.0], t);
        for i in 0..6 {
            assert!(!jac[i][j].is_nan(), "({i}, {j}) is NaN");
            assert_eq!(tangent[i].to_bits(), jac[i][j].to_bits(), "({i}, {j})");
        }
    }
}

/// `√(ε + Σ vᵢ²)`.
#[differentiate(reverse, forward)]
fn softnorm(v: &[f64], eps: f64) -> f64 {
    let mut s = eps;
    for i in 0..v.len() {
        s += v[i] * v[i];
    }
    s.sqrt()
}

#[differentiate(reverse, forward)]
fn bump(a: f64, b: f64) -> f64 {
    (a * b).tanh() + a
}

/// Calls of functions with one output, with scalars, a local array, a part of a parameter and
/// a whole parameter: in lanes, each call's tangent comes from the callee's gradient.
#[differentiate(reverse, forward)]
fn features(x: [f64; 4], w: f64) -> [f64; 6] {
    let mut h = [0.0; 3];
    let mut out = [0.0; 6];
    for i in 0..3 {
        h[i] = x[i] * w + x[i + 1];
        out[i] = bump(h[i], x[3]);
    }
    out[3] = softnorm(&h, 1e-3);
    out[4] = softnorm(&x[1..3], w * w);
    out[5] = softnorm(&x, 0.0);
    out
}

fn features_flat(v: &[f64]) -> Vec<f64> {
    features([v[0], v[1], v[2], v[3]], v[4]).to_vec()
}

#[test]
fn calls_in_lanes_take_the_callee_gradient() {
    for (x, w) in [([0.3, -1.2, 0.8, 0.5], 0.7), ([1.5, 0.2, -0.7, -0.3], -1.1)] {
        let (value, jac) = features_jacobian(x, w);
        assert_eq!(value, features(x, w));
        let mut at = x.to_vec();
        at.push(w);
        assert_matrix(&to_rows(&jac), &fd(&features_flat, &at), 1e-6);
        for j in 0..5 {
            let mut t = [0.0; 4];
            let t_w = if j == 4 { 1.0 } else { 0.0 };
            if j < 4 {
                t[j] = 1.0;
            }
            let (_, tangent) = features_jvp(x, t, w, t_w);
            for i in 0..6 {
                assert!(close(tangent[i], jac[i][j], 1e-12), "({i}, {j})");
            }
        }
    }
    // At `x = 0` the norm `|x|` has the convention's zero gradient, not NaN.
    let (_, jac) = features_jacobian([0.0; 4], 0.5);
    assert!(jac.iter().flatten().all(|d| !d.is_nan()));
    assert_eq!(jac[5], [0.0; 5]);
}

// ---------------------------------------------------------------------------------------------
// Jacobians row by row: each iteration of the loop writes one output from the inputs alone.

const ROWS: usize = 7;

/// Every construct a row may hold: a nested loop with its own accumulator, a local array
/// overwritten per row, `if`/`else`, `match` on the counter with a guard, a closure, a call with
/// several outputs, a call with one, cyclic indices, a scalar, an array and a reference to an
/// array among the active parameters and a constant one left out by `wrt`.
#[differentiate(reverse, forward, wrt(a, x, w))]
fn rows_of_everything(a: f64, x: [f64; ROWS], w: &[f64; 3], c: &[f64; ROWS]) -> [f64; ROWS] {
    let mut r = [0.0; ROWS];
    for i in 0..ROWS {
        let left = x[(i + ROWS - 1) % ROWS];
        let mut h = [0.0; 3];
        let mut s = 0.0;
        for k in 0..3 {
            h[k] = w[k] * left + c[i];
            s += h[k] * h[k];
        }
        let scale = |v: f64| v * a + 0.5;
        let [u, v] = rot(x[i], scale(s).tanh());
        let bent = match i {
            0 => u.sin(),
            k if k % 2 == 1 => v * a,
            _ => u + v.tanh(),
        };
        r[i] = if x[i] > 0.0 {
            bent * cube(left)
        } else {
            bent - a * a
        };
    }
    r
}

#[differentiate(reverse, forward)]
fn cube(z: f64) -> f64 {
    z * z * z
}

/// A running sum carried from row to row: not a row loop, the Jacobian is lower triangular and
/// takes the sweeps.
#[differentiate(reverse, forward)]
fn carried(x: [f64; ROWS]) -> [f64; ROWS] {
    let mut r = [0.0; ROWS];
    let mut acc = 0.0;
    for i in 0..r.len() {
        acc += x[i] * x[i];
        r[i] = acc.sqrt();
    }
    r
}

/// The output read back inside the loop: not a row loop either.
#[differentiate(reverse, forward)]
fn reads_back(x: [f64; ROWS]) -> [f64; ROWS] {
    let mut r = [0.0; ROWS];
    for i in 0..ROWS {
        let before = if i > 0 { r[i - 1] } else { 1.0 };
        r[i] = before * x[i].sin();
    }
    r
}

/// A row loop over `0..r.len()`, in `f32`.
#[differentiate(reverse, forward)]
fn rows32(x: [f32; 4]) -> [f32; 4] {
    let mut r = [0.0; 4];
    for i in 0..r.len() {
        let next = x[(i + 1) % 4];
        r[i] = x[i] * next.exp() - next;
    }
    r
}

fn jacobian_by_columns<const N: usize, const M: usize>(
    jvp: &dyn Fn([f64; N]) -> [f64; M],
) -> Vec<Vec<f64>> {
    let mut jac = vec![vec![0.0; N]; M];
    for j in 0..N {
        let mut t = [0.0; N];
        t[j] = 1.0;
        let col = jvp(t);
        for i in 0..M {
            jac[i][j] = col[i];
        }
    }
    jac
}

#[test]
fn row_loops_give_the_jacobian_row_by_row() {
    let c = [0.3, -0.2, 0.1, 0.7, -0.5, 0.05, 0.4];
    let w = [0.9, -0.4, 0.6];
    let flat = |v: &[f64]| {
        let x: [f64; ROWS] = std::array::from_fn(|k| v[1 + k]);
        let w = [v[1 + ROWS], v[2 + ROWS], v[3 + ROWS]];
        rows_of_everything(v[0], x, &w, &c).to_vec()
    };
    for a in [0.8, -0.6] {
        let x = [0.5, -1.0, 1.5, 0.25, -0.3, 0.9, 1.1];
        let (value, jac) = rows_of_everything_jacobian(a, x, &w, &c);
        assert_eq!(value, rows_of_everything(a, x, &w, &c), "bit for bit");
        let mut v = vec![a];
        v.extend(x);
        v.extend(w);
        assert_matrix(&to_rows(&jac), &fd(&flat, &v), 1e-6);
        // Forward mode, column by column, and the VJP along each unit seed.
        let by_columns = jacobian_by_columns::<11, ROWS>(&|t| {
            let tx: [f64; ROWS] = std::array::from_fn(|k| t[1 + k]);
            rows_of_everything_jvp(a, t[0], x, tx, &w, &[t[8], t[9], t[10]], &c).1
        });
        assert_matrix(&to_rows(&jac), &by_columns, 1e-12);
        for i in 0..ROWS {
            let mut seed = [0.0; ROWS];
            seed[i] = 1.0;
            let (_, da, dx, dw) = rows_of_everything_vjp(a, x, &w, &c, seed);
            let mut row = vec![da];
            row.extend(dx);
            row.extend(dw);
            assert_matrix(&[row], &[jac[i].to_vec()], 1e-12);
        }
    }

    let x = [0.5, -1.0, 1.5, 0.25, -0.3, 0.9, 1.1];
    for (name, f, jacobian, jvp) in [
        (
            "carried",
            carried as fn([f64; ROWS]) -> [f64; ROWS],
            carried_jacobian as fn([f64; ROWS]) -> ([f64; ROWS], [[f64; ROWS]; ROWS]),
            carried_jvp as fn([f64; ROWS], [f64; ROWS]) -> ([f64; ROWS], [f64; ROWS]),
        ),
        (
            "reads_back",
            reads_back,
            reads_back_jacobian,
            reads_back_jvp,
        ),
    ] {
        let (value, jac) = jacobian(x);
        assert_eq!(value, f(x), "{name}");
        let flat = |v: &[f64]| f(std::array::from_fn(|k| v[k])).to_vec();
        assert_matrix(&to_rows(&jac), &fd(&flat, &x), 1e-6);
        assert_matrix(
            &to_rows(&jac),
            &jacobian_by_columns::<ROWS, ROWS>(&|t| jvp(x, t).1),
            1e-12,
        );
    }

    let x32 = [0.5_f32, -1.0, 1.5, 0.25];
    let (value, jac) = rows32_jacobian(x32);
    assert_eq!(value, rows32(x32));
    for i in 0..4 {
        let next = (i + 1) % 4;
        for j in 0..4 {
            let mut want = 0.0;
            if j == i {
                want += x32[next].exp();
            }
            if j == next {
                want += x32[i] * x32[next].exp() - 1.0;
            }
            assert!(
                (jac[i][j] - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "({i}, {j})"
            );
        }
    }
}

/// An array literal passed to a call with several outputs, and a call's array bound whole, as
/// users write them.
#[differentiate(reverse, forward)]
fn literal_argument(x: [f64; 3]) -> [f64; 2] {
    let [u, v] = rot_pair([x[0], x[1]], x[2]);
    let w: [f64; 2] = rot_pair([u, v], x[0]);
    [w[0] * x[2], w[1] + x[0] * v]
}

#[differentiate(reverse, forward)]
fn rot_pair(p: [f64; 2], a: f64) -> [f64; 2] {
    [
        p[0] * a.cos() - p[1] * a.sin(),
        p[0] * a.sin() + p[1] * a.cos(),
    ]
}

#[test]
fn array_literal_arguments_of_calls_with_several_outputs() {
    let x = [0.7, -0.4, 1.1];
    let (value, jac) = literal_argument_jacobian(x);
    assert_eq!(value, literal_argument(x));
    let flat = |v: &[f64]| literal_argument([v[0], v[1], v[2]]).to_vec();
    assert_matrix(&to_rows(&jac), &fd(&flat, &x), 1e-6);
    let by_columns = jacobian_by_columns::<3, 2>(&|t| literal_argument_jvp(x, t).1);
    assert_matrix(&to_rows(&jac), &by_columns, 1e-12);
}

/// A call's array bound whole inside a function with one output.
#[differentiate(reverse, forward)]
fn bound_whole(a: f64, r: f64) -> f64 {
    let p: [f64; 2] = rot_pair([r, 0.5 * r], a);
    p[0] * p[1] + p[0]
}

#[test]
fn a_call_with_several_outputs_bound_whole() {
    for (a, r) in [(0.3, 1.2), (-1.1, 0.4)] {
        let (v, d_a, d_r) = bound_whole_grad(a, r);
        assert_eq!(v, bound_whole(a, r));
        let h = 1e-6;
        let fd_a = (bound_whole(a + h, r) - bound_whole(a - h, r)) / (2.0 * h);
        let fd_r = (bound_whole(a, r + h) - bound_whole(a, r - h)) / (2.0 * h);
        assert!(
            close(d_a, fd_a, 1e-6) && close(d_r, fd_r, 1e-6),
            "{d_a} {fd_a} {d_r} {fd_r}"
        );
        let (_, t) = bound_whole_jvp(a, 1.0, r, 0.0);
        assert!(close(t, d_a, 1e-12));
    }
}

// Hand-written derivatives of functions with several outputs: a call `let [a, b] = g(x);` goes
// through `g_vjp` and `g_jvp`, whoever wrote them.

/// Polar to Cartesian coordinates, with derivatives by hand that count their calls.
fn to_xy(r: f64, t: f64) -> [f64; 2] {
    [r * t.cos(), r * t.sin()]
}

static TO_XY_VJP_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn to_xy_vjp(r: f64, t: f64, seed: [f64; 2]) -> ([f64; 2], f64, f64) {
    TO_XY_VJP_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (c, s) = (t.cos(), t.sin());
    (
        to_xy(r, t),
        seed[0] * c + seed[1] * s,
        -seed[0] * r * s + seed[1] * r * c,
    )
}

fn to_xy_jvp(r: f64, d_r: f64, t: f64, d_t: f64) -> ([f64; 2], [f64; 2]) {
    let (c, s) = (t.cos(), t.sin());
    (to_xy(r, t), [d_r * c - r * s * d_t, d_r * s + r * c * d_t])
}

/// `x² cos y sin y + sin(x cos y)`, through `to_xy`, and once more in a loop.
#[differentiate(reverse, forward)]
fn area(x: f64, y: f64) -> f64 {
    let [a, b] = to_xy(x, y);
    let mut s = a * b + a.sin();
    for k in 0..2 {
        let [u, v] = to_xy(s, y * (k as f64));
        s = u + 0.5 * v;
    }
    s
}

/// The same, in closed form, with its derivatives by hand.
fn area_closed(x: f64, y: f64) -> (f64, f64, f64) {
    let (c, s) = (y.cos(), y.sin());
    let a = x * c;
    let f0 = x * x * c * s + a.sin();
    let (d0x, d0y) = (
        2.0 * x * c * s + a.cos() * c,
        x * x * (c * c - s * s) - a.cos() * x * s,
    );
    // k = 0: t = 0, s ← s. k = 1: t = y, s ← s (cos y + 0.5 sin y).
    let m = c + 0.5 * s;
    let dm = -s + 0.5 * c;
    (f0 * m, d0x * m, d0y * m + f0 * dm)
}

#[test]
fn hand_written_vjp_and_jvp_of_a_vector_function() {
    for (x, y) in [(0.7, 0.3), (-1.2, 2.1), (0.0, -0.4)] {
        let (f, d_x, d_y) = area_closed(x, y);
        let before = TO_XY_VJP_CALLS.load(std::sync::atomic::Ordering::Relaxed);
        let (value, g_x, g_y) = area_grad(x, y);
        // Two or more calls in this test's threads; at least this one's three.
        assert!(TO_XY_VJP_CALLS.load(std::sync::atomic::Ordering::Relaxed) >= before + 3);
        assert_eq!(value, area(x, y));
        assert!(close(value, f, 1e-12), "{value} vs {f}");
        assert!(close(g_x, d_x, 1e-12), "{g_x} vs {d_x}");
        assert!(close(g_y, d_y, 1e-12), "{g_y} vs {d_y}");
        let (v, t) = area_jvp(x, 0.25, y, -1.5);
        assert_eq!(v, value);
        assert!(close(t, 0.25 * d_x - 1.5 * d_y, 1e-12));
    }
}

/// A custom derivative that is not the function's: rounding with a straight-through gradient.
/// The caller's gradient follows the rule given, which finite differences (zero) would not.
fn snap(x: f64, y: f64) -> (f64, f64) {
    (x.round(), y.round())
}

fn snap_vjp(x: f64, y: f64, seed: (f64, f64)) -> ((f64, f64), f64, f64) {
    (snap(x, y), seed.0, seed.1)
}

fn snap_jvp(x: f64, d_x: f64, y: f64, d_y: f64) -> ((f64, f64), (f64, f64)) {
    (snap(x, y), (d_x, d_y))
}

#[differentiate(reverse, forward)]
fn snapped(x: f64, y: f64) -> [f64; 2] {
    let (a, b) = snap(3.0 * x, y * y);
    [a * b, a - b]
}

#[test]
fn hand_written_straight_through_derivative() {
    let (x, y) = (0.83, 1.4);
    let (a, b) = snap(3.0 * x, y * y);
    let (value, jac) = snapped_jacobian(x, y);
    assert_eq!(value, [a * b, a - b]);
    // Through the identity rule: ∂a/∂x = 3, ∂b/∂y = 2y.
    let want = [[3.0 * b, a * 2.0 * y], [3.0, -2.0 * y]];
    for i in 0..2 {
        for j in 0..2 {
            assert!(close(jac[i][j], want[i][j], 1e-12), "({i}, {j})");
        }
    }
    let (_, t) = snapped_jvp(x, 1.0, y, 0.0);
    assert!(close(t[0], want[0][0], 1e-12) && close(t[1], want[1][0], 1e-12));
    let (_, g_x, g_y) = snapped_vjp(x, y, [0.5, -2.0]);
    assert!(close(g_x, 0.5 * want[0][0] - 2.0 * want[1][0], 1e-12));
    assert!(close(g_y, 0.5 * want[0][1] - 2.0 * want[1][1], 1e-12));
}

/// An array in, a tuple of a float and an array out, by hand: `(|p|², p rotated by a)`.
fn spin(p: [f64; 2], a: f64) -> (f64, [f64; 2]) {
    let (c, s) = (a.cos(), a.sin());
    (
        p[0] * p[0] + p[1] * p[1],
        [c * p[0] - s * p[1], s * p[0] + c * p[1]],
    )
}

fn spin_vjp(p: [f64; 2], a: f64, seed: (f64, [f64; 2])) -> ((f64, [f64; 2]), [f64; 2], f64) {
    let (c, s) = (a.cos(), a.sin());
    let (n, r) = seed;
    let d_p = [
        2.0 * p[0] * n + c * r[0] + s * r[1],
        2.0 * p[1] * n - s * r[0] + c * r[1],
    ];
    let d_a = r[0] * (-s * p[0] - c * p[1]) + r[1] * (c * p[0] - s * p[1]);
    (spin(p, a), d_p, d_a)
}

fn spin_jvp(p: [f64; 2], d_p: [f64; 2], a: f64, d_a: f64) -> ((f64, [f64; 2]), (f64, [f64; 2])) {
    let (c, s) = (a.cos(), a.sin());
    let d_n = 2.0 * (p[0] * d_p[0] + p[1] * d_p[1]);
    let d_r = [
        c * d_p[0] - s * d_p[1] + d_a * (-s * p[0] - c * p[1]),
        s * d_p[0] + c * d_p[1] + d_a * (c * p[0] - s * p[1]),
    ];
    (spin(p, a), (d_n, d_r))
}

/// Three steps of `spin`, the array overwritten each step.
#[differentiate(reverse, forward)]
fn orbit(p: [f64; 2], a: f64) -> [f64; 2] {
    let mut q = p;
    for _ in 0..3 {
        let (n, r): (f64, [f64; 2]) = spin(q, a);
        q[0] = r[0] / (1.0 + n);
        q[1] = r[1];
    }
    q
}

fn orbit_flat(v: &[f64]) -> Vec<f64> {
    orbit([v[0], v[1]], v[2]).to_vec()
}

#[test]
fn hand_written_derivatives_with_array_inputs_and_tuple_outputs() {
    let (p, a) = ([0.6, -0.8], 0.35);
    let (value, jac) = orbit_jacobian(p, a);
    assert_eq!(value, orbit(p, a));
    assert_matrix(&to_rows(&jac), &fd(&orbit_flat, &[p[0], p[1], a]), 1e-6);
    for j in 0..3 {
        let mut t = [0.0; 3];
        t[j] = 1.0;
        let (_, tangent) = orbit_jvp(p, [t[0], t[1]], a, t[2]);
        assert!(close(tangent[0], jac[0][j], 1e-12) && close(tangent[1], jac[1][j], 1e-12));
    }
    let seed = [1.3, -0.4];
    let (_, d_p, d_a) = orbit_vjp(p, a, seed);
    let d = [d_p[0], d_p[1], d_a];
    for j in 0..3 {
        assert!(close(
            d[j],
            seed[0] * jac[0][j] + seed[1] * jac[1][j],
            1e-12
        ));
    }
}

/// A slice in, by hand: the sum and the sum of squares, the slice's gradient a `Vec`.
fn sums_of(w: &[f64]) -> [f64; 2] {
    [w.iter().sum(), w.iter().map(|v| v * v).sum()]
}

fn sums_of_vjp(w: &[f64], seed: [f64; 2]) -> ([f64; 2], Vec<f64>) {
    (
        sums_of(w),
        w.iter().map(|v| seed[0] + 2.0 * v * seed[1]).collect(),
    )
}

fn sums_of_jvp(w: &[f64], d_w: &[f64]) -> ([f64; 2], [f64; 2]) {
    let t = [
        d_w.iter().sum(),
        w.iter().zip(d_w).map(|(v, d)| 2.0 * v * d).sum(),
    ];
    (sums_of(w), t)
}

/// The variance, through a hand-written helper and through a generated one with a slice.
#[differentiate(reverse, forward)]
fn variance(w: &[f64], b: f64) -> f64 {
    let n = w.len() as f64;
    let [s, q] = sums_of(w);
    let [m, r] = moments(w, b);
    q / n - (s / n) * (s / n) + m * r
}

#[test]
fn slices_through_hand_written_and_generated_vector_functions() {
    let w = vec![0.5, -1.0, 2.0, 0.25];
    let b = 0.7;
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    let (value, d_w, d_b) = variance_grad(&w, b);
    assert_eq!(value, variance(&w, b));
    let [m, r] = moments(&w, b);
    // m = b Σw, r = |w|: ∂(m r)/∂w_i = b r + m w_i / r, ∂/∂b = r Σw.
    for i in 0..w.len() {
        let want = 2.0 * (w[i] - mean) / n + b * r + m * w[i] / r;
        assert!(close(d_w[i], want, 1e-12), "{i}: {} vs {want}", d_w[i]);
    }
    assert!(close(d_b, r * w.iter().sum::<f64>(), 1e-12));
    let dir: Vec<f64> = (0..w.len()).map(|i| 0.1 * i as f64 - 0.2).collect();
    let (v, t) = variance_jvp(&w, &dir, b, 0.5);
    assert_eq!(v, value);
    let want: f64 = d_w.iter().zip(&dir).map(|(g, d)| g * d).sum::<f64>() + 0.5 * d_b;
    assert!(close(t, want, 1e-12), "{t} vs {want}");
}

/// `let p = g(x);` without a type, its elements read at literal indices, as `ADBench`'s bundle
/// adjustment is written: the array is as long as the indices read.
#[differentiate(reverse, forward)]
fn untyped_calls(x: f64, y: f64) -> f64 {
    let p = rot(x, y);
    let mut s = p[0] * p[1];
    for k in 0..2 {
        let q = to_xy(s, y + k as f64);
        s = q[1] - 0.5 * q[0] + p[0];
    }
    s
}

fn untyped_calls_flat(v: &[f64]) -> Vec<f64> {
    vec![untyped_calls(v[0], v[1])]
}

#[test]
fn a_call_with_several_outputs_bound_without_a_type() {
    for (x, y) in [(0.4, 1.3), (-0.7, 0.2)] {
        let (value, d_x, d_y) = untyped_calls_grad(x, y);
        assert_eq!(value, untyped_calls(x, y));
        let want = fd(&untyped_calls_flat, &[x, y]);
        assert!(close(d_x, want[0][0], 1e-6) && close(d_y, want[0][1], 1e-6));
        let (v, t) = untyped_calls_jvp(x, 0.5, y, -2.0);
        assert_eq!(v, value);
        assert!(close(t, 0.5 * d_x - 2.0 * d_y, 1e-12));
    }
}

/// Array arguments written before the call are read where they lie by the backward code; one
/// written again after a call is saved at that call.
#[differentiate(reverse, forward)]
fn written_around_calls(p: [f64; 2], a: f64) -> f64 {
    let mut q = [0.0; 2];
    for i in 0..2 {
        q[i] = p[i] * a + 0.1;
    }
    let w = [q[1], a * q[0]];
    let (n, r): (f64, [f64; 2]) = spin(q, a);
    q[0] = r[0] * n;
    let (m, s): (f64, [f64; 2]) = spin(q, 0.5 * a);
    q[1] = s[0] + m;
    let (k, t): (f64, [f64; 2]) = spin(w, a - 0.2);
    n + m * q[0] + q[1] * s[1] + k * t[0] - t[1]
}

fn written_around_calls_flat(v: &[f64]) -> Vec<f64> {
    vec![written_around_calls([v[0], v[1]], v[2])]
}

#[test]
fn arrays_written_before_and_after_calls() {
    let (p, a) = ([0.6, -0.8], 0.35);
    let (value, d_p, d_a) = written_around_calls_grad(p, a);
    assert_eq!(value, written_around_calls(p, a));
    let want = fd(&written_around_calls_flat, &[p[0], p[1], a]);
    let got = [d_p[0], d_p[1], d_a];
    for j in 0..3 {
        assert!(
            close(got[j], want[0][j], 1e-6),
            "{j}: {} vs {}",
            got[j],
            want[0][j]
        );
    }
    let (_, t) = written_around_calls_jvp(p, [0.3, -0.1], a, 0.7);
    assert!(close(t, 0.3 * d_p[0] - 0.1 * d_p[1] + 0.7 * d_a, 1e-12));
}

/// Part of a slice passed to a function with several outputs, written by hand.
#[differentiate(reverse, forward)]
fn tail_spread(w: &[f64]) -> f64 {
    let [s, q] = sums_of(&w[1..]);
    let t = &w[..2];
    let [a, b] = sums_of(t);
    q - s * s + a * b
}

#[test]
fn parts_of_slices_passed_to_functions_with_several_outputs() {
    let w = [0.5, -1.0, 2.0, 0.25];
    let (value, d_w) = tail_spread_grad(&w);
    assert_eq!(value, tail_spread(&w));
    let s: f64 = w[1..].iter().sum();
    let (a, b) = (w[0] + w[1], w[0] * w[0] + w[1] * w[1]);
    for i in 0..w.len() {
        let tail = if i >= 1 { 2.0 * w[i] - 2.0 * s } else { 0.0 };
        let head = if i < 2 { b + a * 2.0 * w[i] } else { 0.0 };
        assert!(
            close(d_w[i], tail + head, 1e-12),
            "{i}: {} vs {}",
            d_w[i],
            tail + head
        );
    }
    let dir = [0.3, -0.2, 0.1, 0.7];
    let (_, t) = tail_spread_jvp(&w, &dir);
    let want: f64 = d_w.iter().zip(&dir).map(|(g, d)| g * d).sum();
    assert!(close(t, want, 1e-12));
}

/// `return` of a tuple from a `match` arm, before the tail: (x, x²) for k = 0, else (2x, x).
#[differentiate(reverse, forward)]
#[allow(clippy::single_match)] // the `match` form is what is tested
fn returned_from_an_arm(x: f64, k: i32) -> (f64, f64) {
    match k {
        0 => {
            return (x, x * x);
        }
        _ => {}
    }
    (x * 2.0, x)
}

/// A `match` as the tail, its arms a tuple, a block and a `return`.
#[differentiate(reverse, forward)]
#[allow(clippy::needless_return)] // an arm that returns is what is tested
fn matched_tail(x: f64, k: i32) -> (f64, [f64; 2]) {
    match k {
        0 => (x, [x * x, 1.0]),
        1 => {
            let y = x.sin();
            (y, [y, x])
        }
        _ => return (3.0 * x, [x, x]),
    }
}

/// An `if` as the tail whose first branch returns.
#[differentiate(reverse, forward)]
#[allow(clippy::needless_return, clippy::redundant_else)] // the form is what is tested
fn returned_from_a_branch(x: f64, k: i32) -> (f64, [f64; 2]) {
    if k == 0 {
        return (x, [x, x]);
    } else {
        (x * x, [2.0 * x, x.cos()])
    }
}

/// Array outputs returned by `array.map`, alone and in a tuple.
#[differentiate(reverse, forward)]
fn squares(z: [f64; 3]) -> [f64; 3] {
    z.map(|v| v * v)
}

#[differentiate(reverse, forward)]
fn scaled(z: [f64; 2], s: f64) -> (f64, [f64; 2]) {
    (s * z[0], z.map(|v| v * s))
}

/// A helper with an array output, and functions returning its result as theirs.
#[differentiate(reverse, forward)]
fn square_and_sine(x: f64) -> [f64; 2] {
    [x * x, x.sin()]
}

#[differentiate(reverse, forward)]
fn passed_on(x: f64) -> [f64; 2] {
    square_and_sine(x)
}

#[differentiate(reverse, forward)]
fn passed_on_in_a_tuple(x: f64) -> (f64, [f64; 2]) {
    (x, square_and_sine(2.0 * x))
}

#[test]
fn returns_from_arms_and_mapped_outputs() {
    let x = 0.7_f64;
    for k in 0..3 {
        // Jacobians by hand (one input, so one column).
        let (v, jac) = returned_from_an_arm_jacobian(x, k);
        let (want_v, want_j) = if k == 0 {
            ((x, x * x), [[1.0], [2.0 * x]])
        } else {
            ((2.0 * x, x), [[2.0], [1.0]])
        };
        assert_eq!(v, want_v);
        assert!(close(jac[0][0], want_j[0][0], 1e-14) && close(jac[1][0], want_j[1][0], 1e-14));

        let (v, jac) = matched_tail_jacobian(x, k);
        let (want_v, want_j) = match k {
            0 => ((x, [x * x, 1.0]), [1.0, 2.0 * x, 0.0]),
            1 => ((x.sin(), [x.sin(), x]), [x.cos(), x.cos(), 1.0]),
            _ => ((3.0 * x, [x, x]), [3.0, 1.0, 1.0]),
        };
        assert_eq!(v, want_v);
        for i in 0..3 {
            assert!(
                close(jac[i][0], want_j[i], 1e-14),
                "matched_tail ({i}) at k = {k}"
            );
        }
        let (_, t) = matched_tail_jvp(x, 1.0, k);
        assert!(close(t.0, want_j[0], 1e-14) && close(t.1[1], want_j[2], 1e-14));

        let (_, jac) = returned_from_a_branch_jacobian(x, k);
        let want_j = if k == 0 {
            [1.0, 1.0, 1.0]
        } else {
            [2.0 * x, 2.0, -x.sin()]
        };
        for i in 0..3 {
            assert!(close(jac[i][0], want_j[i], 1e-14));
        }
    }
    let (v, jac) = passed_on_jacobian(x);
    assert_eq!(v, [x * x, x.sin()]);
    assert!(close(jac[0][0], 2.0 * x, 1e-15) && close(jac[1][0], x.cos(), 1e-15));
    let (_, t) = passed_on_jvp(x, 1.0);
    assert!(close(t[0], 2.0 * x, 1e-15) && close(t[1], x.cos(), 1e-15));
    let (v, jac) = passed_on_in_a_tuple_jacobian(x);
    assert_eq!(v, (x, [4.0 * x * x, (2.0 * x).sin()]));
    let want = [1.0, 8.0 * x, 2.0 * (2.0 * x).cos()];
    for i in 0..3 {
        assert!(close(jac[i][0], want[i], 1e-15));
    }
    let z = [1.0, -2.0, 0.5];
    let (v, jac) = squares_jacobian(z);
    assert_eq!(v, [1.0, 4.0, 0.25]);
    for i in 0..3 {
        for j in 0..3 {
            let want = if i == j { 2.0 * z[i] } else { 0.0 };
            assert!(close(jac[i][j], want, 1e-15));
        }
    }
    let (v, jac) = scaled_jacobian([1.0, 2.0], 3.0);
    assert_eq!(v, (3.0, [3.0, 6.0]));
    // Rows ∂(s z₀, z₀ s, z₁ s)/∂(z₀, z₁, s).
    let want = [[3.0, 0.0, 1.0], [3.0, 0.0, 1.0], [0.0, 3.0, 2.0]];
    for i in 0..3 {
        for j in 0..3 {
            assert!(close(jac[i][j], want[i][j], 1e-15));
        }
    }
}

/// A helper with two outputs, called inside a closure and inside a `match` arm.
#[differentiate(reverse, forward, hessian)]
fn cosine_and_square(v: f64) -> [f64; 2] {
    [v.cos(), v * v]
}

/// f = z² cos z (through the closure) + (cos 2z + 4z² for k = 0, z otherwise).
#[differentiate(reverse, forward, hessian)]
fn calls_in_a_closure_and_an_arm(z: f64, k: i32) -> f64 {
    let product = |u: f64| {
        let [c, d] = cosine_and_square(u);
        c * d
    };
    let s = match k {
        0 => {
            let [a, b] = cosine_and_square(2.0 * z);
            a + b
        }
        _ => z,
    };
    product(z) + s
}

#[test]
fn several_output_calls_in_closures_and_arms() {
    let z = 0.7_f64;
    let (sin, cos) = z.sin_cos();
    let first = 2.0 * z * cos - z * z * sin;
    let second = 2.0 * cos - 4.0 * z * sin - z * z * cos;
    for k in [0, 1] {
        let (d1, d2) = if k == 0 {
            (
                first - 2.0 * (2.0 * z).sin() + 8.0 * z,
                second - 4.0 * (2.0 * z).cos() + 8.0,
            )
        } else {
            (first + 1.0, second)
        };
        let (_, g) = calls_in_a_closure_and_an_arm_grad(z, k);
        let (_, t) = calls_in_a_closure_and_an_arm_jvp(z, 1.0, k);
        let (_, _, h) = calls_in_a_closure_and_an_arm_hvp(z, 1.0, k);
        assert!(
            close(g, d1, 1e-13) && close(t, d1, 1e-13),
            "f' at k = {k}: {g}, {t}, {d1}"
        );
        assert!(close(h, d2, 1e-12), "f'' at k = {k}: {h} against {d2}");
    }
}

/// No float parameter: a Jacobian with no column.
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::cast_precision_loss)]
fn constant_outputs(n: usize) -> [f64; 2] {
    [n as f64, 1.0]
}

/// The sum of a data slice and its length, shifted by a constant.
#[differentiate(reverse, forward)]
#[allow(clippy::cast_precision_loss)]
fn slice_summary(x: &[f64], offset: usize) -> [f64; 2] {
    let mut s = 0.0;
    for v in x {
        s += v;
    }
    [s + offset as f64, x.len() as f64]
}

/// A tuple output, of an empty slice and a scalar.
#[differentiate(reverse, forward)]
fn squares_and_scalar(x: &[f64], c: f64) -> (f64, [f64; 2]) {
    let mut s = 0.0;
    for v in x {
        s += v * v;
    }
    (s + c, [c * 2.0, s])
}

#[test]
fn jacobian_output_without_columns() {
    // The output is the function's even when no column is computed.
    assert_eq!(constant_outputs_jacobian(3), ([3.0, 1.0], [[], []]));
    let (out, jac) = slice_summary_jacobian(&[], 3);
    assert_eq!((out, jac.len()), ([3.0, 0.0], 0));
    let mut empty: [f64; 0] = [];
    assert_eq!(slice_summary_jacobian_into(&[], 3, &mut empty), [3.0, 0.0]);
    // One column (the scalar) and none of the empty slice: ∂(s + c, 2c, s)/∂c = (1, 2, 0).
    let (out, jac) = squares_and_scalar_jacobian(&[], 1.5);
    assert_eq!((out, jac), ((1.5, [3.0, 0.0]), vec![1.0, 2.0, 0.0]));
    let (out, jac) = squares_and_scalar_jacobian(&[2.0], 1.5);
    assert_eq!(
        (out, jac),
        ((5.5, [3.0, 4.0]), vec![4.0, 1.0, 0.0, 2.0, 4.0, 0.0])
    );
}

/// Forward kinematics of a two-link arm, in a module of its own.
mod kin {
    use autodiff::differentiate;

    #[differentiate(reverse, forward, hessian)]
    pub fn fk(t: [f64; 2]) -> [f64; 2] {
        [
            t[0].cos() + (t[0] + t[1]).cos(),
            t[0].sin() + (t[0] + t[1]).sin(),
        ]
    }
}

/// Several-output calls by path: `|p|² + p₀ p₁`, the tip bound by a pattern and by a name.
#[differentiate(reverse, forward, hessian)]
#[allow(unused_qualifications)] // the paths are what is tested
fn reach_by_path(t: [f64; 2]) -> f64 {
    let [a, b] = kin::fk(t);
    let p: [f64; 2] = crate::kin::fk(t);
    let q = self::kin::fk(t);
    a * a + b * b + p[0] * q[1]
}

#[test]
fn several_output_calls_by_path() {
    let f = |t: [f64; 2]| {
        let (x, y) = (
            t[0].cos() + (t[0] + t[1]).cos(),
            t[0].sin() + (t[0] + t[1]).sin(),
        );
        x * x + y * y + x * y
    };
    let h = 1e-5;
    for t in [[0.3, 0.8], [-1.1, 2.0]] {
        let (value, grad) = reach_by_path_grad(t);
        assert!(close(value, f(t), 1e-14));
        for (k, g) in grad.iter().enumerate() {
            let (mut up, mut down) = (t, t);
            up[k] += h;
            down[k] -= h;
            let fd = (f(up) - f(down)) / (2.0 * h);
            assert!(close(*g, fd, 1e-8), "∂/∂t{k}: {g} against {fd}");
            let mut dir = [0.0; 2];
            dir[k] = 1.0;
            let (_, tangent) = reach_by_path_jvp(t, dir);
            assert!(close(tangent, *g, 1e-13));
            // The Hessian's column k against differences of the checked gradient.
            let (_, _, hv) = reach_by_path_hvp(t, dir);
            let (gu, gd) = (reach_by_path_grad(up).1, reach_by_path_grad(down).1);
            for j in 0..2 {
                let fd = (gu[j] - gd[j]) / (2.0 * h);
                assert!(
                    close(hv[j], fd, 1e-7),
                    "H[{j}][{k}]: {} against {fd}",
                    hv[j]
                );
            }
        }
    }
}

/// An `f32` constant of a function with `f64` outputs, left out of `wrt`.
#[differentiate(reverse, forward, hessian, wrt(a))]
fn mixed_constant(a: f64, q: f32) -> [f64; 2] {
    let c = f64::from(q);
    [a * c, a * a + c]
}

#[test]
fn several_outputs_with_a_constant_of_another_float_type() {
    let (out, jac) = mixed_constant_jacobian(2.0, 3.0);
    assert_eq!((out, jac), ([6.0, 7.0], [[3.0], [4.0]]));
    let (_, d_a) = mixed_constant_vjp(2.0, 3.0, [1.0, -1.0]);
    assert!(close(d_a, 3.0 - 4.0, 1e-15));
    let (_, tangent) = mixed_constant_jvp(2.0, 1.0, 3.0);
    assert_eq!(tangent, [3.0, 4.0]);
}

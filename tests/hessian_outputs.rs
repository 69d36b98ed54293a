//! Second order of functions with several outputs and of helpers with out-parameters: `f_hvp`
//! (`f_vjp`'s result followed by its tangent) and `f_hvp_into`, against closed forms and central
//! differences of `f_vjp` / `f_vjp_into`.
use approx::assert_relative_eq;
use autodiff::differentiate;

/// Polar to Cartesian coordinates.
#[differentiate(reverse, forward, hessian)]
fn polar(r: f64, t: f64) -> [f64; 2] {
    [r * t.cos(), r * t.sin()]
}

#[test]
fn polar_hvp_closed_form() {
    let (r, t) = (1.7, 0.6);
    let (vr, vt) = (0.3, -1.1);
    let (w, vw) = ([0.8, -0.4], [0.25, 1.5]);
    let (out, d_r, d_t, tangent, hv_r, hv_t) = polar_hvp(r, vr, t, vt, w, vw);
    let (c, s) = (t.cos(), t.sin());
    assert_relative_eq!(out[0], r * c, max_relative = 1e-15);
    assert_relative_eq!(out[1], r * s, max_relative = 1e-15);
    // The tangent is J·v.
    assert_relative_eq!(tangent[0], c * vr - r * s * vt, max_relative = 1e-14);
    assert_relative_eq!(tangent[1], s * vr + r * c * vt, max_relative = 1e-14);
    // The gradient is wᵀ·J.
    assert_relative_eq!(d_r, w[0] * c + w[1] * s, max_relative = 1e-14);
    assert_relative_eq!(d_t, -w[0] * r * s + w[1] * r * c, max_relative = 1e-14);
    // Its tangent: the second derivatives along v, and wᵀ·J's change with w.
    let want_r = -w[0] * s * vt + w[1] * c * vt + vw[0] * c + vw[1] * s;
    let want_t = -w[0] * (vr * s + r * c * vt) + w[1] * (vr * c - r * s * vt) - vw[0] * r * s
        + vw[1] * r * c;
    assert_relative_eq!(hv_r, want_r, max_relative = 1e-14);
    assert_relative_eq!(hv_t, want_t, max_relative = 1e-14);
    // The tangent agrees with forward mode.
    assert_eq!(polar_jvp(r, vr, t, vt).1, tangent);
}

/// A tuple output with a slice input, a loop and a branch.
#[differentiate(reverse, hessian)]
fn moments(x: &[f64], s: f64) -> (f64, [f64; 2]) {
    let mut sum = 0.0;
    let mut sq = 0.0;
    for &xi in x {
        let y = if xi > 0.0 { xi * s } else { (xi * s).exp() };
        sum += y;
        sq += y * y * xi;
    }
    (sum * sum, [sq.sin(), sum * sq / s])
}

/// `(seedᵀ·J)` of `moments`, flattened: the gradient with respect to `x`, then `s`.
fn moments_vjp_flat(x: &[f64], s: f64, seed: (f64, [f64; 2])) -> Vec<f64> {
    let (_, mut d, d_s) = moments_vjp(x, s, seed);
    d.push(d_s);
    d
}

#[test]
fn moments_hvp_against_differences_of_the_vjp() {
    let x = [0.4, -0.7, 1.3, 0.2];
    let s = 0.9;
    let v_x = [0.5, 0.25, -1.0, 2.0];
    let v_s = -0.6;
    let seed = (0.7, [-1.2, 0.4]);
    let v_seed = (0.3, [0.9, -0.5]);
    let (out, d_x, d_s, tangent, hv_x, hv_s) = moments_hvp(&x, &v_x, s, v_s, seed, v_seed);
    let (out_vjp, d_x_vjp, d_s_vjp) = moments_vjp(&x, s, seed);
    assert_eq!(out, out_vjp);
    assert_eq!(d_x, d_x_vjp);
    assert_eq!(d_s, d_s_vjp);
    // Central differences of the VJP along (v_x, v_s, v_seed).
    let h = 1e-6;
    let at = |e: f64| {
        let xs: Vec<f64> = x.iter().zip(&v_x).map(|(a, b)| a + e * b).collect();
        let seed = (
            seed.0 + e * v_seed.0,
            [seed.1[0] + e * v_seed.1[0], seed.1[1] + e * v_seed.1[1]],
        );
        (
            moments(&xs, s + e * v_s),
            moments_vjp_flat(&xs, s + e * v_s, seed),
        )
    };
    let ((up_out, up), (down_out, down)) = (at(h), at(-h));
    let fd: Vec<f64> = up
        .iter()
        .zip(&down)
        .map(|(a, b)| (a - b) / (2.0 * h))
        .collect();
    let got: Vec<f64> = hv_x.iter().copied().chain([hv_s]).collect();
    for (g, w) in got.iter().zip(&fd) {
        assert!(
            (g - w).abs() <= 1e-6 * (1.0 + w.abs()),
            "H·v {g}, differences {w}"
        );
    }
    let fd_out = [
        (up_out.0 - down_out.0) / (2.0 * h),
        (up_out.1[0] - down_out.1[0]) / (2.0 * h),
        (up_out.1[1] - down_out.1[1]) / (2.0 * h),
    ];
    let got_out = [tangent.0, tangent.1[0], tangent.1[1]];
    for (g, w) in got_out.iter().zip(&fd_out) {
        assert!(
            (g - w).abs() <= 1e-6 * (1.0 + w.abs()),
            "tangent {g}, differences {w}"
        );
    }
    // `_into` adds into the caller's buffers.
    let (mut d, mut hv) = ([1.0; 4], [-1.0; 4]);
    let (_, d_s2, _, hv_s2) = moments_hvp_into(&x, &v_x, &mut d, &mut hv, s, v_s, seed, v_seed);
    assert_eq!((d_s2, hv_s2), (d_s, hv_s));
    for i in 0..4 {
        assert_relative_eq!(d[i], 1.0 + d_x[i], max_relative = 1e-15);
        assert_relative_eq!(hv[i], -1.0 + hv_x[i], max_relative = 1e-15);
    }
}

/// A helper writing its result into a buffer, and reading what the buffer held.
#[differentiate(reverse, forward, hessian)]
fn blend(x: &[f64], s: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = 0.5 * out[i] + (x[i] * s).sin();
    }
    out[0] = 2.0;
}

#[test]
fn out_parameter_hvp_into() {
    let x = [0.3, -1.2, 0.8];
    let s = 1.4;
    let before = [0.5, -0.25, 1.5];
    let v_x = [1.0, 0.5, -0.3];
    let v_s = 0.7;
    let v_before = [0.2, 0.4, -0.6];
    let w = [0.9, -1.1, 0.6];
    let v_w = [0.1, 0.3, -0.2];

    let mut out = before;
    let mut v_out = v_before;
    let (mut d_out, mut hv_out) = (w, v_w);
    let (mut d_x, mut hv_x) = ([0.0; 3], [0.0; 3]);
    let (d_s, hv_s) = blend_hvp_into(
        &x,
        &v_x,
        &mut d_x,
        &mut hv_x,
        s,
        v_s,
        &mut out,
        &mut v_out,
        &mut d_out,
        &mut hv_out,
    );
    // Outputs and their tangents, by hand and by forward mode.
    let (mut out_jvp, mut t_jvp) = (before, v_before);
    blend_jvp(&x, &v_x, s, v_s, &mut out_jvp, &mut t_jvp);
    assert_eq!(out, out_jvp);
    for i in 0..3 {
        let want = if i == 0 {
            0.0
        } else {
            0.5 * v_before[i] + (x[i] * s).cos() * (v_x[i] * s + x[i] * v_s)
        };
        assert_relative_eq!(v_out[i], want, max_relative = 1e-14);
        assert_relative_eq!(t_jvp[i], want, max_relative = 1e-14);
    }
    // The gradient and the adjoint of what the buffer held, by hand: element 0 is overwritten.
    let mut want_d_s = 0.0;
    for i in 1..3 {
        let c = (x[i] * s).cos();
        assert_relative_eq!(d_x[i], w[i] * c * s, max_relative = 1e-14);
        assert_relative_eq!(d_out[i], 0.5 * w[i], max_relative = 1e-14);
        want_d_s += w[i] * c * x[i];
        // Tangents: d/dε of w·cos(x s)·s and of w·cos(x s)·x.
        let (sn, u) = ((x[i] * s).sin(), v_x[i] * s + x[i] * v_s);
        let want_hv_x = v_w[i] * c * s - w[i] * sn * u * s + w[i] * c * v_s;
        assert_relative_eq!(hv_x[i], want_hv_x, max_relative = 1e-13);
        assert_relative_eq!(hv_out[i], 0.5 * v_w[i], max_relative = 1e-14);
    }
    assert_eq!((d_x[0], hv_x[0], d_out[0], hv_out[0]), (0.0, 0.0, 0.0, 0.0));
    assert_relative_eq!(d_s, want_d_s, max_relative = 1e-14);
    // `hv_s` against central differences of `blend_vjp_into`'s `d_s`.
    let h = 1e-6;
    let d_s_at = |e: f64| {
        let xs: Vec<f64> = x.iter().zip(&v_x).map(|(a, b)| a + e * b).collect();
        let mut out: Vec<f64> = before
            .iter()
            .zip(&v_before)
            .map(|(a, b)| a + e * b)
            .collect();
        let mut d_out: Vec<f64> = w.iter().zip(&v_w).map(|(a, b)| a + e * b).collect();
        let mut d_x = [0.0; 3];
        blend_vjp_into(&xs, &mut d_x, s + e * v_s, &mut out, &mut d_out).0
    };
    let fd = (d_s_at(h) - d_s_at(-h)) / (2.0 * h);
    assert!(
        (hv_s - fd).abs() <= 1e-7 * (1.0 + fd.abs()),
        "{hv_s} against {fd}"
    );
}

/// An out-parameter beside a float return value: the value's seed and its tangent come last.
#[differentiate(reverse, hessian)]
fn square_into(x: f64, out: &mut [f64]) -> f64 {
    out[0] = x * x;
    x.sin()
}

#[test]
fn out_parameter_with_a_value() {
    let (x, v_x) = (0.8, 1.3);
    let (w, v_w, seed, v_seed) = (0.6, -0.4, 1.5, 0.2);
    let (mut out, mut v_out, mut d_out, mut hv_out) = ([0.0], [0.0], [w], [v_w]);
    let (value, d_x, hv_x) = square_into_hvp_into(
        x,
        v_x,
        &mut out,
        &mut v_out,
        &mut d_out,
        &mut hv_out,
        seed,
        v_seed,
    );
    assert_eq!(value, x.sin());
    assert_eq!(out[0], x * x);
    assert_relative_eq!(v_out[0], 2.0 * x * v_x, max_relative = 1e-15);
    assert_relative_eq!(d_x, seed * x.cos() + 2.0 * x * w, max_relative = 1e-15);
    let want = v_seed * x.cos() - seed * x.sin() * v_x + 2.0 * (v_x * w + x * v_w);
    assert_relative_eq!(hv_x, want, max_relative = 1e-14);
    assert_eq!((d_out[0], hv_out[0]), (0.0, 0.0));
}

// Second-order callers: calls of functions with several outputs go through `g_hvp` alone, calls
// of helpers that write into buffers through `g_jvp` and `g_hvp_into`.

/// Only `hessian`: a second-order caller needs nothing else.
#[differentiate(hessian)]
fn rot(a: f64, r: f64) -> [f64; 2] {
    [r * a.cos(), r * a.sin()]
}

/// `u·v = y²·sin(2x)/2`.
#[differentiate(hessian)]
fn rot_product(x: f64, y: f64) -> f64 {
    let [u, v] = rot(x, y);
    u * v
}

#[test]
fn caller_of_several_outputs_closed_form() {
    for (x, y) in [(0.3, 1.2), (-1.1, 0.4), (2.0, -0.7)] {
        let (value, dx, dy, hess) = rot_product_hessian(x, y);
        let (s2, c2) = ((2.0 * x).sin(), (2.0 * x).cos());
        assert_relative_eq!(value, y * y * s2 / 2.0, max_relative = 1e-14);
        assert_relative_eq!(dx, y * y * c2, max_relative = 1e-13);
        assert_relative_eq!(dy, y * s2, max_relative = 1e-13);
        let want = [[-2.0 * y * y * s2, 2.0 * y * c2], [2.0 * y * c2, s2]];
        for i in 0..2 {
            for j in 0..2 {
                assert!(
                    (hess[i][j] - want[i][j]).abs() <= 1e-13 * (1.0 + want[i][j].abs()),
                    "H[{i}][{j}] = {}, expected {}",
                    hess[i][j],
                    want[i][j]
                );
            }
        }
    }
}

/// A function with several outputs of an array, called in a loop on parts of the input.
#[differentiate(reverse, hessian)]
fn pair_stats(p: &[f64; 2], w: f64) -> (f64, f64) {
    let m = w * (p[0] + p[1]);
    (m * m, (p[0] * p[1]).sin() + m)
}

#[differentiate(reverse, hessian)]
fn pairs_objective(x: &[f64; 6], w: f64) -> f64 {
    let mut total = 0.0;
    for k in 0..3 {
        let p = [x[2 * k], x[2 * k + 1]];
        let (a, b) = pair_stats(&p, w);
        total += a * b + b.exp();
    }
    total
}

/// Central differences of `f_grad`, flattened: column `j` of the Hessian.
fn fd_columns(grad: impl Fn(&[f64]) -> Vec<f64>, at: &[f64]) -> Vec<Vec<f64>> {
    (0..at.len())
        .map(|j| {
            let step = 1e-5 * (1.0 + at[j].abs());
            let (mut up, mut down) = (at.to_vec(), at.to_vec());
            up[j] += step;
            down[j] -= step;
            let (gu, gd) = (grad(&up), grad(&down));
            gu.iter()
                .zip(&gd)
                .map(|(a, b)| (a - b) / (2.0 * step))
                .collect()
        })
        .collect()
}

#[test]
fn caller_of_several_outputs_in_a_loop_against_differences() {
    let x = [0.3, -0.2, 0.5, 0.1, -0.4, 0.25];
    let w = 0.6;
    let (value, d_x, d_w, hess) = pairs_objective_hessian(&x, w);
    let (value_g, d_x_g, d_w_g) = pairs_objective_grad(&x, w);
    assert_relative_eq!(value, value_g, max_relative = 1e-15);
    for i in 0..6 {
        assert_relative_eq!(d_x[i], d_x_g[i], max_relative = 1e-14);
    }
    assert_relative_eq!(d_w, d_w_g, max_relative = 1e-14);
    let grad = |z: &[f64]| {
        let (_, d_x, d_w) = pairs_objective_grad(z[..6].try_into().unwrap(), z[6]);
        let mut g = d_x.to_vec();
        g.push(d_w);
        g
    };
    let at: Vec<f64> = x.iter().copied().chain([w]).collect();
    let fd = fd_columns(grad, &at);
    for i in 0..7 {
        for j in 0..7 {
            let want = fd[j][i];
            assert!(
                (hess[i][j] - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "H[{i}][{j}] = {}, differences {want}",
                hess[i][j]
            );
        }
    }
}

/// `y`'s gradient is by hand and straight-through: the caller's second derivatives follow the
/// hand-written `g_hvp`, not the function.
fn snap(a: f64, b: f64) -> [f64; 2] {
    [a.round(), a * b]
}

#[allow(clippy::type_complexity)]
fn snap_hvp(
    a: f64,
    v_a: f64,
    b: f64,
    v_b: f64,
    seed: [f64; 2],
    v_seed: [f64; 2],
) -> ([f64; 2], f64, f64, [f64; 2], f64, f64) {
    let tangent = [v_a, v_a * b + a * v_b];
    let (d_a, d_b) = (seed[0] + seed[1] * b, seed[1] * a);
    let hv_a = v_seed[0] + v_seed[1] * b + seed[1] * v_b;
    let hv_b = v_seed[1] * a + seed[1] * v_a;
    (snap(a, b), d_a, d_b, tangent, hv_a, hv_b)
}

#[differentiate(hessian)]
fn snapped(x: f64, y: f64) -> f64 {
    let [r, p] = snap(x, y);
    r * r * p
}

#[test]
fn hand_written_hvp_of_several_outputs() {
    // With round(x) taken as x: f = x³·y, H = [[6xy, 3x²], [3x², 0]], but the value uses
    // round(x) = r: f = r²·x·y, whose "gradient" by the rule is (2r·xy + r², r²x)...
    let (x, y) = (1.2_f64, 0.7);
    let r = x.round();
    let (value, dx, dy, hess) = snapped_hessian(x, y);
    assert_eq!(value, r * r * x * y);
    // ∂f/∂x = 2r·p + r²·y with p = x·y and ṙ = ẋ by the rule; ∂f/∂y = r²·x.
    assert_relative_eq!(dx, 2.0 * r * x * y + r * r * y, max_relative = 1e-14);
    assert_relative_eq!(dy, r * r * x, max_relative = 1e-14);
    // Differentiating those with ṙ = ẋ: H = [[2xy + 4ry, 2rx + r²], [2rx + r², 0]].
    let want = [
        [2.0 * x * y + 4.0 * r * y, 2.0 * r * x + r * r],
        [2.0 * r * x + r * r, 0.0],
    ];
    for i in 0..2 {
        for j in 0..2 {
            assert_relative_eq!(hess[i][j], want[i][j], max_relative = 1e-14);
        }
    }
}

/// A helper writing a buffer, called in a second-order caller: `Σ (x − y)²` has
/// `H = [[2I, −2I], [−2I, 2I]]`.
#[differentiate(reverse, forward, hessian)]
fn subtract(a: &[f64], b: &[f64], out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] - b[i];
    }
}

#[differentiate(reverse, hessian)]
fn distance(x: &[f64], y: &[f64]) -> f64 {
    let mut d = vec![0.0; x.len()];
    subtract(x, y, &mut d);
    d.iter().map(|e| e * e).sum()
}

#[test]
fn caller_of_a_buffer_helper_closed_form() {
    let x = [0.5, -1.0, 2.0];
    let y = [1.5, 0.25, -0.5];
    let (value, d_x, d_y, hess) = distance_hessian(&x, &y);
    let want_value: f64 = x.iter().zip(&y).map(|(a, b)| (a - b) * (a - b)).sum();
    assert_relative_eq!(value, want_value, max_relative = 1e-15);
    for i in 0..3 {
        assert_relative_eq!(d_x[i], 2.0 * (x[i] - y[i]), max_relative = 1e-15);
        assert_relative_eq!(d_y[i], -2.0 * (x[i] - y[i]), max_relative = 1e-15);
    }
    let n = 6;
    for i in 0..n {
        for j in 0..n {
            let want = if i % 3 != j % 3 {
                0.0
            } else if (i < 3) == (j < 3) {
                2.0
            } else {
                -2.0
            };
            assert_eq!(hess[i * n + j], want, "H[{i}][{j}]");
        }
    }
}

/// A helper that reads what its buffer held, called in a loop on a buffer it keeps
/// overwriting, with a scalar argument: `blend` above.
#[differentiate(reverse, hessian)]
fn blended(x: &[f64], s: f64) -> f64 {
    let mut h = vec![0.3; x.len()];
    let mut total = 0.0;
    for k in 0..3 {
        blend(x, s + k as f64 * 0.1, &mut h);
        for e in &h {
            total += e * e * s;
        }
    }
    total
}

#[test]
fn caller_of_a_buffer_helper_in_a_loop_against_differences() {
    let x = [0.3, -0.8, 1.1, 0.45];
    let s = 0.7;
    let (value, d_x, d_s, hess) = blended_hessian(&x, s);
    let (value_g, d_x_g, d_s_g) = blended_grad(&x, s);
    assert_relative_eq!(value, value_g, max_relative = 1e-14);
    for i in 0..4 {
        assert_relative_eq!(d_x[i], d_x_g[i], max_relative = 1e-13);
    }
    assert_relative_eq!(d_s, d_s_g, max_relative = 1e-13);
    let grad = |z: &[f64]| {
        let (_, mut d_x, d_s) = blended_grad(&z[..4], z[4]);
        d_x.push(d_s);
        d_x
    };
    let at: Vec<f64> = x.iter().copied().chain([s]).collect();
    let fd = fd_columns(grad, &at);
    let n = 5;
    for i in 0..n {
        for j in 0..n {
            let want = fd[j][i];
            let got = hess[i * n + j];
            assert!(
                (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "H[{i}][{j}] = {got}, differences {want}"
            );
        }
    }
}

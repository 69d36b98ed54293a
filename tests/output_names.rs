//! Several outputs and out-parameters: the generated functions name their own parameters and
//! locals apart from the user's, whatever the user calls theirs (`seed`, `v_x`, `d_x`, `jac`,
//! `out_`, ...). Each function is checked against its derivatives in closed form.
#![allow(clippy::cast_precision_loss, clippy::many_single_char_names)]

use autodiff::differentiate;

#[track_caller]
fn close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} against {want:?}");
    for (a, b) in got.iter().zip(want) {
        assert!(
            (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs())),
            "{got:?} against {want:?}"
        );
    }
}

/// A constant parameter called `seed`, as `f_vjp`'s seed is.
#[differentiate]
fn simulate(x: f64, seed: u64) -> [f64; 2] {
    let s = seed as f64;
    [x * s, x * x]
}

#[test]
fn a_parameter_called_seed() {
    assert_eq!(simulate_vjp(3.0, 2, [1.0, 1.0]), ([6.0, 9.0], 8.0));
    // seedᵀ·J = a s + 2 b x.
    let (out, d_x) = simulate_vjp(1.5, 4, [0.5, -2.0]);
    close(&out, &[6.0, 2.25]);
    close(&[d_x], &[0.5 * 4.0 - 2.0 * 2.0 * 1.5]);
    let (out, jac) = simulate_jacobian(3.0, 2);
    assert_eq!(out, [6.0, 9.0]);
    assert_eq!(jac, [[2.0], [6.0]]);
}

/// A parameter called `v_x`, as the direction of `x` in `f_hvp` is.
#[differentiate(reverse, hessian)]
fn state(x: f64, v_x: f64) -> [f64; 2] {
    [x * v_x, x * x]
}

#[test]
fn a_parameter_called_like_a_direction() {
    let (x, y) = (1.5, -0.5);
    let (out, d_x, d_y) = state_vjp(x, y, [2.0, 3.0]);
    close(&out, &[x * y, x * x]);
    close(&[d_x, d_y], &[2.0 * y + 2.0 * 3.0 * x, 2.0 * x]);
    let (_, jac) = state_jacobian(x, y);
    assert_eq!(jac, [[y, x], [2.0 * x, 0.0]]);
    // Outputs [x y, x²]; with seed (a, b): g_x = a y + 2 b x, g_y = a x.
    let (vx, vy) = (0.25, 2.0);
    let (a, b, va, vb) = (0.7, -1.1, 0.3, 0.9);
    let (out, g_x, g_y, tangent, hv_x, hv_y) = state_hvp(x, vx, y, vy, [a, b], [va, vb]);
    close(&out, &[x * y, x * x]);
    close(&[g_x, g_y], &[a * y + 2.0 * b * x, a * x]);
    close(&tangent, &[vx * y + x * vy, 2.0 * x * vx]);
    close(
        &[hv_x, hv_y],
        &[
            va * y + a * vy + 2.0 * vb * x + 2.0 * b * vx,
            va * x + a * vx,
        ],
    );
}

/// The same, second order only.
#[differentiate(hessian)]
fn state_only(x: f64, v_x: f64) -> [f64; 2] {
    [x * v_x, x * x]
}

#[test]
fn a_parameter_called_like_a_direction_second_order_only() {
    let (x, y, vx, vy) = (0.5, 3.0, 1.0, -1.0);
    let (out, g_x, g_y, tangent, hv_x, hv_y) = state_only_hvp(x, vx, y, vy, [1.0, 0.0], [0.0, 1.0]);
    close(&out, &[x * y, x * x]);
    close(&[g_x, g_y], &[y, x]);
    close(&tangent, &[vx * y + x * vy, 2.0 * x * vx]);
    close(&[hv_x, hv_y], &[vy + 2.0 * x, vx]);
}

/// A parameter called `d_x`, as the tangent of `x` in `f_jvp` is.
#[differentiate(forward)]
fn two_f(x: f64, d_x: f64) -> [f64; 2] {
    [x * d_x, x * x]
}

#[test]
fn a_parameter_called_like_a_tangent() {
    let (x, y, tx, ty) = (2.0, -3.0, 0.5, 4.0);
    let (out, tangent) = two_f_jvp(x, tx, y, ty);
    close(&out, &[x * y, x * x]);
    close(&tangent, &[tx * y + x * ty, 2.0 * x * tx]);
}

/// The same in every mode.
#[differentiate(reverse, forward, hessian)]
fn two_all(x: f64, d_x: f64) -> (f64, [f64; 1]) {
    (x * d_x, [x * x])
}

#[test]
fn a_parameter_called_like_a_tangent_in_every_mode() {
    let (x, y) = (2.0, -3.0);
    let (out, g_x, g_y) = two_all_vjp(x, y, (1.0, [1.0]));
    assert_eq!(out, (x * y, [x * x]));
    close(&[g_x, g_y], &[y + 2.0 * x, x]);
    let (_, jac) = two_all_jacobian(x, y);
    assert_eq!(jac, [[y, x], [2.0 * x, 0.0]]);
    let (_, tangent) = two_all_jvp(x, 1.0, y, 0.0);
    assert_eq!(tangent, (y, [2.0 * x]));
    let (_, _, _, _, hv_x, hv_y) = two_all_hvp(x, 1.0, y, 0.0, (1.0, [1.0]), (0.0, [0.0]));
    close(&[hv_x, hv_y], &[2.0, 1.0]);
}

/// A parameter called `jac`, as `f_jacobian_into`'s buffer is, next to a slice.
#[differentiate]
fn h(x: &[f64], jac: f64) -> [f64; 2] {
    [x[0] * jac, x[1] * x[0]]
}

#[test]
fn a_parameter_called_jac() {
    let x = [1.5, -2.0];
    let c = 3.0;
    let want_out = [x[0] * c, x[1] * x[0]];
    // Columns x0, x1, jac.
    let want_jac = [c, 0.0, x[0], x[1], x[0], 0.0];
    let mut buffer = [0.0; 6];
    let out = h_jacobian_into(&x, c, &mut buffer);
    close(&out, &want_out);
    close(&buffer, &want_jac);
    let (out, jac) = h_jacobian(&x, c);
    close(&out, &want_out);
    close(&jac, &want_jac);
    let (a, b) = (0.5, 2.0);
    let (out, d_x, d_c) = h_vjp(&x, c, [a, b]);
    close(&out, &want_out);
    close(&d_x, &[a * c + b * x[1], b * x[0]]);
    close(&[d_c], &[a * x[0]]);
    let mut d_x = [1.0, 1.0];
    let (out, d_c) = h_vjp_into(&x, &mut d_x, c, [a, b]);
    close(&out, &want_out);
    close(&d_x, &[1.0 + a * c + b * x[1], 1.0 + b * x[0]]);
    close(&[d_c], &[a * x[0]]);
}

/// Parameters called as the generated functions' locals are.
#[differentiate(reverse, forward, hessian)]
fn internal(out_: f64, d_out_: f64, jac_: f64, value_: f64, k_: f64) -> [f64; 2] {
    [out_ * d_out_ + jac_, value_ * k_ * out_]
}

#[test]
fn parameters_called_as_internal_names() {
    let p = [1.5, -0.5, 2.0, 3.0, 0.25];
    let want_out = [p[0] * p[1] + p[2], p[3] * p[4] * p[0]];
    let want_jac = [
        [p[1], p[0], 1.0, 0.0, 0.0],
        [p[3] * p[4], 0.0, 0.0, p[4] * p[0], p[3] * p[0]],
    ];
    let (out, jac) = internal_jacobian(p[0], p[1], p[2], p[3], p[4]);
    close(&out, &want_out);
    for i in 0..2 {
        close(&jac[i], &want_jac[i]);
    }
    let (a, b) = (0.5, -2.0);
    let (out, g0, g1, g2, g3, g4) = internal_vjp(p[0], p[1], p[2], p[3], p[4], [a, b]);
    close(&out, &want_out);
    let want: Vec<f64> = (0..5)
        .map(|j| a * want_jac[0][j] + b * want_jac[1][j])
        .collect();
    close(&[g0, g1, g2, g3, g4], &want);
    let (_, tangent) = internal_jvp(p[0], 1.0, p[1], 0.0, p[2], 0.0, p[3], 0.0, p[4], 0.0);
    close(&tangent, &[want_jac[0][0], want_jac[1][0]]);
    // Along out_ only, seed (1, 0): the Hessian of out_ d_out_ + jac_ has ∂²/∂out_∂d_out_ = 1.
    let (_, _, _, _, _, _, _, h0, h1, h2, h3, h4) = internal_hvp(
        p[0],
        1.0,
        p[1],
        0.0,
        p[2],
        0.0,
        p[3],
        0.0,
        p[4],
        0.0,
        [1.0, 0.0],
        [0.0, 0.0],
    );
    close(&[h0, h1, h2, h3, h4], &[0.0, 1.0, 0.0, 0.0, 0.0]);
}

/// Locals called as the rewriter's names, and an output returned through a call bound first.
#[differentiate(reverse, forward)]
fn locals(x: &[f64], seed: f64) -> ([f64; 2], f64) {
    let k_ = [x[0] * seed, x[1]];
    let value_ = x[0] + x[1];
    let out_ = 2.0 * value_;
    (k_.map(|v| v * out_), value_)
}

#[test]
fn locals_called_as_internal_names() {
    let (x, s) = ([1.5, -0.5], 2.0);
    // out_ = 2 (x0 + x1); outputs x0 s out_, x1 out_, x0 + x1.
    let w = 2.0 * (x[0] + x[1]);
    let want_out = ([x[0] * s * w, x[1] * w], x[0] + x[1]);
    let want_jac = [
        s * w + 2.0 * x[0] * s,
        2.0 * x[0] * s,
        x[0] * w,
        2.0 * x[1],
        w + 2.0 * x[1],
        0.0,
        1.0,
        1.0,
        0.0,
    ];
    let (out, jac) = locals_jacobian(&x, s);
    assert_eq!(out, want_out);
    close(&jac, &want_jac);
    let (out, tangent) = locals_jvp(&x, &[0.0, 0.0], s, 1.0);
    assert_eq!(out, want_out);
    close(&tangent.0, &[want_jac[2], want_jac[5]]);
    close(&[tangent.1], &[want_jac[8]]);
}

/// A helper with an out-parameter and a parameter called `d_a`, as the buffer after `a` is.
#[differentiate(reverse, forward)]
fn g(a: &[f64], d_a: f64, out: &mut [f64]) {
    for i in 0..out.len() {
        out[i] = a[i] * d_a;
    }
}

#[test]
fn an_out_parameter_next_to_a_parameter_called_like_its_buffer() {
    let a = [1.5, -0.5];
    let c = 3.0;
    let mut out = [0.0; 2];
    let mut d_a = [1.0, 0.0];
    let mut d_out = [0.5, 2.0];
    let (d_c,) = g_vjp_into(&a, &mut d_a, c, &mut out, &mut d_out);
    close(&out, &[a[0] * c, a[1] * c]);
    close(&d_a, &[1.0 + 0.5 * c, 2.0 * c]);
    close(&[d_c], &[0.5 * a[0] + 2.0 * a[1]]);
    close(&d_out, &[0.0, 0.0]);
    let mut t_out = [0.0; 2];
    g_jvp(&a, &[1.0, 0.0], c, 2.0, &mut out, &mut t_out);
    close(&t_out, &[c + 2.0 * a[0], 2.0 * a[1]]);
}

#[differentiate(reverse, forward)]
fn pair(x: f64) -> (f64, [f64; 2]) {
    (x * x, [x, 2.0 * x])
}

/// A call with several outputs bound by a pattern, next to locals called as the buffer and the
/// loop counter the rewriting of such a call uses.
#[differentiate(reverse, forward)]
fn uses_pair(x: f64) -> f64 {
    let outputs_0_ = 3.0;
    let (a, k_): (f64, [f64; 2]) = pair(x);
    a + k_[1] * outputs_0_
}

/// The same in a function with several outputs, whose own buffer is called `out_`.
#[differentiate(reverse, forward)]
fn uses_pair_twice(x: f64, out_: f64) -> [f64; 2] {
    let outputs_0_ = 3.0;
    let (a, k_): (f64, [f64; 2]) = pair(x);
    [a + k_[1] * outputs_0_, out_ * k_[0]]
}

#[test]
fn locals_called_as_the_buffers_of_calls() {
    let x = 1.5;
    // x² + 6 x.
    assert_eq!(uses_pair(x), x * x + 6.0 * x);
    let (value, d_x) = uses_pair_grad(x);
    close(&[value, d_x], &[x * x + 6.0 * x, 2.0 * x + 6.0]);
    let (_, t) = uses_pair_jvp(x, 1.0);
    close(&[t], &[2.0 * x + 6.0]);
    // [x² + 6 x, c x].
    let c = -2.0;
    let (out, jac) = uses_pair_twice_jacobian(x, c);
    close(&out, &[x * x + 6.0 * x, c * x]);
    close(&jac[0], &[2.0 * x + 6.0, 0.0]);
    close(&jac[1], &[c, x]);
    let (_, tangent) = uses_pair_twice_jvp(x, 1.0, c, 1.0);
    close(&tangent, &[2.0 * x + 6.0, c + x]);
}

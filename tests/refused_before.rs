//! Everyday numeric Rust that the macro differentiates: integer bit operators on indices and
//! counters; character, byte and string literals as constants; an early `return` inside the
//! expression that gives the function's value, a bare `return;` beside out-parameters, and a
//! `loop` left only by `return`. Each gradient is checked against a closed form derived by hand
//! and against fourth-order central differences of the original function, `f_jvp` against the
//! gradient, and `f_hvp` or the Hessian against a closed form or differences of the gradient.
#![allow(
    // Loop counters and integer results become `f64` through `as`; they are small.
    clippy::cast_precision_loss
)]

use autodiff::differentiate;

#[allow(dead_code)]
mod common;

use common::oracles::{EXACT, FD, assert_near, check_hessian, dot, fd_gradient};

/// `x[i & 1]` alternates between the two entries; `m >>= 1` halves a counter, as an FFT's
/// stride does.
#[differentiate(reverse, forward)]
fn alternating(x: &[f64], n: usize) -> f64 {
    let mut s = 0.0;
    let mut m = n;
    for i in 0..n {
        s += x[i & 1] * x[i & 1];
        m >>= 1;
        s += m as f64;
    }
    s
}

#[test]
fn bit_and_and_shift_assignment_on_counters() {
    let x = [1.5, -0.75];
    let n = 5;
    let (value, dx) = alternating_grad(&x, n);
    assert_eq!(value, alternating(&x, n));
    // Entry 0 is read at i = 0, 2, 4 and entry 1 at i = 1, 3: 3·x0² + 2·x1² plus 2 + 1 + 0 + 0 + 0.
    assert_near(
        "value",
        &[value],
        &[3.0 * x[0] * x[0] + 2.0 * x[1] * x[1] + 3.0],
        EXACT,
    );
    assert_near("∂/∂x", &dx, &[6.0 * x[0], 4.0 * x[1]], EXACT);
    let fd = fd_gradient(|p| alternating(p, n), &x);
    assert_near("∂/∂x by differences", &dx, &fd, FD);
    let v = [0.25, -2.0];
    let (fvalue, tangent) = alternating_jvp(&x, &v, n);
    assert_eq!(fvalue, value);
    assert_near("f_jvp", &[tangent], &[dot(&dx, &v)], EXACT);
}

/// Every bit operator and its assignment, on a parameter, a counter and a local: the weights
/// `w(i) = ((i ^ k) & 3) | (i >> 1)`, a mask, and `!` of an integer.
#[differentiate(reverse, forward, hessian)]
fn masked(x: [f64; 4], k: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        let w = ((i ^ k) & 3) | (i >> 1);
        let even = !i & 1;
        s += (w as f64) * x[i] * x[(i + 1) & 3] + (even << 1) as f64 * x[i].sin();
    }
    let mut j = k;
    j &= 6;
    j |= 1;
    j ^= 2;
    j <<= 2;
    j >>= 1;
    s * (j as f64)
}

/// The gradient of [`masked`] by hand, the weights written with `%` and `/`, and `j` the
/// integer the assignments leave, worked out by hand for each `k`.
fn masked_gradient(x: [f64; 4], k: usize, j: f64) -> [f64; 4] {
    let mut ds = [0.0; 4];
    for i in 0..4 {
        let w = (((i ^ k) % 4) | (i / 2)) as f64;
        let even = if i % 2 == 0 { 2.0 } else { 0.0 };
        let next = (i + 1) % 4;
        ds[i] += w * x[next] + even * x[i].cos();
        ds[next] += w * x[i];
    }
    ds.map(|d| d * j)
}

#[test]
fn every_bit_operator_and_its_assignment() {
    let x = [0.5, -1.25, 2.0, 0.75];
    // k & 6, | 1, ^ 2, << 2, >> 1: 0 → 0 → 1 → 3 → 12 → 6, 5 → 4 → 5 → 7 → 28 → 14.
    for (k, j) in [(0, 6.0), (1, 6.0), (5, 14.0), (6, 10.0)] {
        let (value, dx) = masked_grad(x, k);
        assert_eq!(value, masked(x, k));
        let want = masked_gradient(x, k, j);
        assert_near("∂/∂x", &dx, &want, EXACT);
        let fd = fd_gradient(|p| masked([p[0], p[1], p[2], p[3]], k), &x);
        assert_near("∂/∂x by differences", &dx, &fd, FD);
        let v = [1.0, -0.5, 0.25, 2.0];
        let (fvalue, tangent) = masked_jvp(x, v, k);
        assert_eq!(fvalue, value);
        assert_near("f_jvp", &[tangent], &[dot(&dx, &v)], EXACT);
        let (_, _, hess) = masked_hessian(x, k);
        let hess: Vec<f64> = hess.into_iter().flatten().collect();
        check_hessian(
            "Hessian",
            &hess,
            |p| masked_grad([p[0], p[1], p[2], p[3]], k).1.to_vec(),
            &x,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Character, byte and string literals, as constants.

/// A branch on a `char` parameter.
#[differentiate(reverse, forward, hessian)]
fn by_char(x: f64, c: char) -> f64 {
    if c == 'a' { x * x * x } else { 1.0 + x.sin() }
}

/// A digit read from a byte, `b - b'0'`, and a branch on a byte.
#[differentiate(reverse, forward)]
fn by_byte(x: f64, b: u8) -> f64 {
    if b.is_ascii_digit() {
        f64::from(b - b'0') * x * x
    } else if b == b'e' {
        x.exp()
    } else {
        x
    }
}

/// A `match` on a `char`, with an or-pattern.
#[differentiate(reverse, forward)]
fn by_match(x: f64, c: char) -> f64 {
    match c {
        'a' => x * x,
        'b' | 'c' => x.sin(),
        _ => x,
    }
}

/// An activation chosen by name.
#[differentiate(reverse, forward)]
fn activation(x: f64, name: &str) -> f64 {
    if name == "relu" {
        autodiff::relu(x)
    } else if name == "tanh" {
        x.tanh()
    } else {
        x
    }
}

#[test]
fn char_byte_and_string_literals_are_constants() {
    for x in [-0.75, 0.5, 1.25] {
        for c in ['a', 'b'] {
            let (value, dx) = by_char_grad(x, c);
            assert_eq!(value, by_char(x, c));
            let want = if c == 'a' { 3.0 * x * x } else { x.cos() };
            assert_near("by_char", &[dx], &[want], EXACT);
            assert_near(
                "by_char by differences",
                &[dx],
                &fd_gradient(|p| by_char(p[0], c), &[x]),
                FD,
            );
            let (_, tangent) = by_char_jvp(x, 1.0, c);
            assert_near("by_char_jvp", &[tangent], &[want], EXACT);
            let (_, _, hv) = by_char_hvp(x, 1.0, c);
            let want = if c == 'a' { 6.0 * x } else { -x.sin() };
            assert_near("by_char_hvp", &[hv], &[want], EXACT);
        }
        for c in ['a', 'c', 'z'] {
            let (value, dx) = by_match_grad(x, c);
            assert_eq!(value, by_match(x, c));
            let want = match c {
                'a' => 2.0 * x,
                'c' => x.cos(),
                _ => 1.0,
            };
            assert_near("by_match", &[dx], &[want], EXACT);
            let (_, tangent) = by_match_jvp(x, 1.0, c);
            assert_near("by_match_jvp", &[tangent], &[want], EXACT);
        }
        for b in [b'7', b'e', b'x'] {
            let (value, dx) = by_byte_grad(x, b);
            assert_eq!(value, by_byte(x, b));
            let want = match b {
                b'7' => 14.0 * x,
                b'e' => x.exp(),
                _ => 1.0,
            };
            assert_near("by_byte", &[dx], &[want], EXACT);
            let (_, tangent) = by_byte_jvp(x, 1.0, b);
            assert_near("by_byte_jvp", &[tangent], &[want], EXACT);
        }
        for name in ["relu", "tanh", "identity"] {
            let (value, dx) = activation_grad(x, name);
            assert_eq!(value, activation(x, name));
            let want = match name {
                "relu" => f64::from(u8::from(x > 0.0)),
                "tanh" => 1.0 - x.tanh() * x.tanh(),
                _ => 1.0,
            };
            assert_near("activation", &[dx], &[want], EXACT);
            let (_, tangent) = activation_jvp(x, 1.0, name);
            assert_near("activation_jvp", &[tangent], &[want], EXACT);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// `return` inside the `if` or `match` that gives the function's value.

/// An early `return` in a branch of the tail `if`.
#[differentiate(reverse, forward, hessian)]
fn returns_in_tail_if(x: f64, k: i32) -> f64 {
    if k == 0 {
        if x > 0.0 {
            return x * x;
        }
        x.sin()
    } else {
        3.0 * x
    }
}

/// A tail `match` whose arms return early: one as the arm's expression, one inside a block.
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::needless_return)] // `return` as an arm's expression, as ported C code writes it
fn returns_in_tail_match(x: f64, k: i32) -> f64 {
    let y = x.sin();
    match k {
        0 => return y * x,
        1 => {
            if x > 1.0 {
                return y;
            }
            y * y
        }
        _ => y + x,
    }
}

#[test]
fn early_return_inside_the_tail_expression() {
    for x in [-1.5, 0.5, 2.0] {
        for k in [0, 1, 2] {
            let (value, dx) = returns_in_tail_if_grad(x, k);
            assert_eq!(value, returns_in_tail_if(x, k));
            let (want, want2) = match k {
                0 if x > 0.0 => (2.0 * x, 2.0),
                0 => (x.cos(), -x.sin()),
                _ => (3.0, 0.0),
            };
            assert_near("tail if", &[dx], &[want], EXACT);
            let fd = fd_gradient(|p| returns_in_tail_if(p[0], k), &[x]);
            assert_near("tail if by differences", &[dx], &fd, FD);
            let (_, tangent) = returns_in_tail_if_jvp(x, 1.0, k);
            assert_near("tail if, f_jvp", &[tangent], &[want], EXACT);
            let (_, _, hv) = returns_in_tail_if_hvp(x, 1.0, k);
            assert_near("tail if, f_hvp", &[hv], &[want2], EXACT);

            let (value, dx) = returns_in_tail_match_grad(x, k);
            assert_eq!(value, returns_in_tail_match(x, k));
            let (s, c) = x.sin_cos();
            let (want, want2) = match k {
                0 => (c * x + s, 2.0 * c - s * x),
                1 if x > 1.0 => (c, -s),
                1 => (2.0 * s * c, 2.0 * (c * c - s * s)),
                _ => (c + 1.0, -s),
            };
            assert_near("tail match", &[dx], &[want], EXACT);
            let fd = fd_gradient(|p| returns_in_tail_match(p[0], k), &[x]);
            assert_near("tail match by differences", &[dx], &fd, FD);
            let (_, tangent) = returns_in_tail_match_jvp(x, 1.0, k);
            assert_near("tail match, f_jvp", &[tangent], &[want], EXACT);
            let (_, _, hv) = returns_in_tail_match_hvp(x, 1.0, k);
            assert_near("tail match, f_hvp", &[hv], &[want2], EXACT);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A bare `return;` in a function that returns through an out-parameter.

/// `r = (cos ‖a‖, a₀ a₁)`, with `r₀ = 1` near the origin, left by `return;` as the C original
/// leaves the function.
#[differentiate(reverse, forward, hessian)]
fn rotation(axis: &[f64], r: &mut [f64]) {
    let norm = (axis[0] * axis[0] + axis[1] * axis[1]).sqrt();
    r[1] = axis[0] * axis[1];
    if norm < 1e-4 {
        r[0] = 1.0;
        return;
    }
    r[0] = norm.cos();
}

/// `r₀ · r₁` of [`rotation`], through its derivatives.
#[differentiate(reverse, forward, hessian)]
fn rotation_product(axis: &[f64]) -> f64 {
    let mut r = [0.0; 2];
    rotation(axis, &mut r);
    r[0] * r[1]
}

/// The Jacobian of [`rotation`] by hand, row by row.
fn rotation_jacobian(a: &[f64]) -> [[f64; 2]; 2] {
    let n = a[0].hypot(a[1]);
    let row0 = if n < 1e-4 {
        [0.0, 0.0]
    } else {
        [-n.sin() * a[0] / n, -n.sin() * a[1] / n]
    };
    [row0, [a[1], a[0]]]
}

#[test]
fn bare_return_in_a_function_with_an_out_parameter() {
    for a in [[0.6, -0.8], [3e-5, 2e-5]] {
        let jac = rotation_jacobian(&a);
        let mut r = [0.0; 2];
        rotation(&a, &mut r);
        // Reverse: each row of the Jacobian is the vector-Jacobian product with a unit seed.
        for (i, row) in jac.iter().enumerate() {
            let mut d_a = [0.0; 2];
            let mut out = [0.0; 2];
            let mut seed = [0.0; 2];
            seed[i] = 1.0;
            rotation_vjp_into(&a, &mut d_a, &mut out, &mut seed);
            assert_eq!(out, r);
            assert_near("rotation_vjp_into", &d_a, row, EXACT);
        }
        // Forward: each column is the tangent along a unit direction.
        for j in 0..2 {
            let mut v = [0.0; 2];
            v[j] = 1.0;
            let mut out = [0.0; 2];
            let mut tangent = [0.0; 2];
            rotation_jvp(&a, &v, &mut out, &mut tangent);
            assert_eq!(out, r);
            assert_near("rotation_jvp", &tangent, &[jac[0][j], jac[1][j]], EXACT);
        }
        // A caller of it, in all three modes.
        let (value, grad) = rotation_product_grad(&a);
        assert_eq!(value, rotation_product(&a));
        let want = [
            jac[0][0] * r[1] + r[0] * jac[1][0],
            jac[0][1] * r[1] + r[0] * jac[1][1],
        ];
        assert_near("rotation_product_grad", &grad, &want, EXACT);
        let v = [0.5, -1.5];
        let (_, tangent) = rotation_product_jvp(&a, &v);
        assert_near("rotation_product_jvp", &[tangent], &[dot(&want, &v)], EXACT);
        let (_, _, hess) = rotation_product_hessian(&a);
        check_hessian(
            "rotation_product Hessian",
            &hess,
            |p| rotation_product_grad(p).1,
            &a,
        );
    }
    // Away from the origin, differences of the original function agree.
    let a = [0.6, -0.8];
    let fd = fd_gradient(rotation_product, &a);
    assert_near("by differences", &rotation_product_grad(&a).1, &fd, FD);
}

// ---------------------------------------------------------------------------------------------
// A `loop` left only by `return`.

/// Newton's iteration for `√a`, left by `return` once it settles: the derivative is `1 / 2√a`.
#[differentiate(reverse, forward, hessian)]
fn newton_sqrt(a: f64) -> f64 {
    let mut y = a.max(1.0);
    loop {
        let next = 0.5 * (y + a / y);
        if (next - y).abs() <= 1e-15 * next {
            return next;
        }
        y = next;
    }
}

/// The C original's goto machine: two coupled maps, left when `x₀² < x₁`.
#[differentiate(reverse, forward)]
fn machine(x: [f64; 2]) -> f64 {
    let [mut x0, mut x1] = x;
    loop {
        let t = 4.0 * (x0 + x1).cos();
        x0 = 3.0 * (2.0 * x0 + x1).sin();
        x1 = t;
        if x0 * x0 < x1 {
            return x0 + x1;
        }
    }
}

#[test]
fn a_loop_left_only_by_return() {
    for a in [0.25, 2.0, 9.0] {
        let (value, da) = newton_sqrt_grad(a);
        assert_eq!(value, newton_sqrt(a));
        assert_near("newton_sqrt", &[value], &[a.sqrt()], EXACT);
        assert_near("d newton_sqrt", &[da], &[0.5 / a.sqrt()], EXACT);
        let (_, tangent) = newton_sqrt_jvp(a, 1.0);
        assert_near("newton_sqrt_jvp", &[tangent], &[da], EXACT);
        let (_, _, hv) = newton_sqrt_hvp(a, 1.0);
        assert_near("newton_sqrt_hvp", &[hv], &[-0.25 / (a * a.sqrt())], 1e-8);
    }
    // Points where the number of turns is the same within the differences' steps.
    for x in [[0.3, 1.1], [0.5, 0.5], [0.2, 0.1]] {
        let (value, dx) = machine_grad(x);
        assert_eq!(value, machine(x));
        let fd = fd_gradient(|p| machine([p[0], p[1]]), &x);
        assert_near("machine by differences", &dx, &fd, FD);
        let v = [0.5, -0.25];
        let (fvalue, tangent) = machine_jvp(x, v);
        assert_eq!(fvalue, value);
        assert_near("machine_jvp", &[tangent], &[dot(&dx, &v)], EXACT);
    }
}

/// A `let mut` that the tail `if` assigns, with and without a `return` in it.
#[differentiate(reverse, forward)]
fn assigned_in_tail(x: f64, k: i32) -> f64 {
    let mut y = x;
    if k == 0 {
        y = y * y;
        if y > 1.0 {
            return y.ln();
        }
        y
    } else {
        y = y.exp();
        y
    }
}

#[test]
fn a_let_mut_assigned_in_the_tail() {
    for (x, k) in [(2.0, 0), (0.5, 0), (0.5, 1)] {
        let (value, dx) = assigned_in_tail_grad(x, k);
        assert_eq!(value, assigned_in_tail(x, k));
        let want = match k {
            0 if x * x > 1.0 => 2.0 / x,
            0 => 2.0 * x,
            _ => x.exp(),
        };
        assert_near("assigned_in_tail", &[dx], &[want], EXACT);
        let (_, tangent) = assigned_in_tail_jvp(x, 1.0, k);
        assert_near("assigned_in_tail_jvp", &[tangent], &[want], EXACT);
    }
}

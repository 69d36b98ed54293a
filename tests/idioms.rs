//! Everyday Rust in a differentiated body: iterators, closures, patterns, `match`, array values,
//! assertions and conversions, written as a Rust programmer writes them (the user's code passes
//! clippy's default lints: no index loops where an iterator reads better).
//!
//! Every function is `#[differentiate(reverse, forward)]`. [`common::check`] holds each gradient
//! to a closed form derived by hand, to fourth-order finite differences of the original function,
//! and to forward mode, and checks that both generated functions return the original's value bit
//! for bit. Functions of several parameters are checked as functions of one flat point.

#![allow(
    // The forms below are the point: `x.iter()` beside `&x`, `cloned` beside `copied`, `match`
    // on a `bool`, loop indices as `f64`.
    clippy::explicit_iter_loop,
    clippy::cloned_instead_of_copied,
    clippy::match_bool,
    clippy::cast_precision_loss
)]

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use autodiff::{Tolerance, check_gradient_with, differentiate};
use common::{REL, assert_close, check};

const FD: Tolerance = Tolerance {
    rel: 1e-6,
    abs: 1e-8,
};

// ---------------------------------------------------------------------------------------------
// `for` over arrays and slices.

#[differentiate(reverse, forward)]
fn for_iter(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for v in x.iter() {
        s += v * v;
    }
    s
}

#[differentiate(reverse, forward)]
fn for_ref(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for v in &x {
        s += v.sin() * *v;
    }
    s
}

#[differentiate(reverse, forward)]
fn for_by_value(x: [f64; 4]) -> f64 {
    let mut p = 1.0;
    for v in x {
        p *= v;
    }
    p
}

#[differentiate(reverse, forward)]
fn for_pattern_ref(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for &v in &x {
        s += v.exp();
    }
    s
}

#[test]
fn for_over_arrays() {
    let points = [[0.5, -1.0, 2.0, 1.5], [1.0, 2.0, 3.0, 4.0]];
    check(
        "for_iter",
        &points,
        FD,
        for_iter,
        for_iter_grad,
        for_iter_jvp,
        |x| x.map(|v| 2.0 * v),
    );
    check(
        "for_ref",
        &points,
        FD,
        for_ref,
        for_ref_grad,
        for_ref_jvp,
        |x| x.map(|v| v.cos() * v + v.sin()),
    );
    check(
        "for_by_value",
        &points,
        FD,
        for_by_value,
        for_by_value_grad,
        for_by_value_jvp,
        |x| std::array::from_fn(|i| (0..4).filter(|&j| j != i).map(|j| x[j]).product()),
    );
    check(
        "for_pattern_ref",
        &points,
        FD,
        for_pattern_ref,
        for_pattern_ref_grad,
        for_pattern_ref_jvp,
        |x| x.map(f64::exp),
    );
}

#[differentiate(reverse, forward)]
fn enumerate(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for (i, v) in x.iter().enumerate() {
        s += (i as f64 + 1.0) * v * v;
    }
    s
}

#[differentiate(reverse, forward)]
fn zip_for(x: [f64; 3], y: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for (a, b) in x.iter().zip(y.iter()) {
        s += a * b.sin();
    }
    for (a, b) in x.iter().zip(&y) {
        s += a * b;
    }
    for (a, b) in x.iter().zip(y) {
        s += *a * a * b;
    }
    s
}

#[test]
fn enumerate_and_zip() {
    check(
        "enumerate",
        &[[0.5, -1.0, 2.0, 1.5]],
        FD,
        enumerate,
        enumerate_grad,
        enumerate_jvp,
        |x| std::array::from_fn(|i| 2.0 * (i as f64 + 1.0) * x[i]),
    );
    let split = |p: [f64; 6]| ([p[0], p[1], p[2]], [p[3], p[4], p[5]]);
    check(
        "zip_for",
        &[[0.5, -1.0, 2.0, 1.5, 0.3, -0.7]],
        FD,
        |p| {
            let (x, y) = split(p);
            zip_for(x, y)
        },
        |p| {
            let (x, y) = split(p);
            let (v, dx, dy) = zip_for_grad(x, y);
            (v, [dx[0], dx[1], dx[2], dy[0], dy[1], dy[2]])
        },
        |p, d| {
            let (x, y) = split(p);
            let (dx, dy) = split(d);
            zip_for_jvp(x, dx, y, dy)
        },
        |p| {
            let (x, y) = split(p);
            let mut g = [0.0; 6];
            for i in 0..3 {
                g[i] = y[i].sin() + y[i] + 2.0 * x[i] * y[i];
                g[i + 3] = x[i] * y[i].cos() + x[i] + x[i] * x[i];
            }
            g
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Windows and chunks.

/// Rosenbrock's function as a Rust programmer writes it.
#[differentiate(reverse, forward)]
fn rosenbrock(x: [f64; 4]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

fn rosenbrock_closed(x: [f64; 4]) -> [f64; 4] {
    let mut g = [0.0; 4];
    for i in 0..3 {
        g[i] += -400.0 * x[i] * (x[i + 1] - x[i] * x[i]) - 2.0 * (1.0 - x[i]);
        g[i + 1] += 200.0 * (x[i + 1] - x[i] * x[i]);
    }
    g
}

#[differentiate(reverse, forward)]
fn windows_for(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for w in x.windows(3) {
        s += w[0] * w[2] + w.len() as f64 * w[1];
    }
    s
}

#[differentiate(reverse, forward)]
fn chunks(x: [f64; 6]) -> f64 {
    let mut s = 0.0;
    for c in x.chunks_exact(2) {
        s += c[0] * c[1] + c.iter().map(|v| v.sin()).sum::<f64>();
    }
    s
}

#[test]
fn windows_and_chunks() {
    let points = [[0.5, -1.0, 2.0, 1.5], [1.0, 1.0, 1.0, 1.0]];
    check(
        "rosenbrock",
        &points,
        FD,
        rosenbrock,
        rosenbrock_grad,
        rosenbrock_jvp,
        rosenbrock_closed,
    );
    check(
        "windows_for",
        &points,
        FD,
        windows_for,
        windows_for_grad,
        windows_for_jvp,
        |x| [x[2], 3.0 + x[3], x[0] + 3.0, x[1]],
    );
    check(
        "chunks",
        &[[0.5, -1.0, 2.0, 1.5, 0.3, 0.9]],
        FD,
        chunks,
        chunks_grad,
        chunks_jvp,
        |x| std::array::from_fn(|i| x[i ^ 1] + x[i].cos()),
    );
}

// ---------------------------------------------------------------------------------------------
// Iterator chains ending in `sum`, `product` and `fold`.

#[differentiate(reverse, forward)]
fn dot(x: [f64; 4], y: [f64; 4]) -> f64 {
    x.iter().zip(y.iter()).map(|(a, b)| a * b).sum::<f64>()
}

#[differentiate(reverse, forward)]
fn product(x: [f64; 4]) -> f64 {
    x.iter().product()
}

#[differentiate(reverse, forward)]
fn fold(x: [f64; 4]) -> f64 {
    x.iter().fold(1.0, |acc, &v| 0.5 * acc + v.sin())
}

#[differentiate(reverse, forward)]
fn fold_max(x: [f64; 4]) -> f64 {
    x.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

#[differentiate(reverse, forward)]
fn adaptors(x: [f64; 6]) -> f64 {
    let a: f64 = x.iter().rev().enumerate().map(|(i, v)| i as f64 * v).sum();
    let b: f64 = x.iter().skip(1).take(3).map(|v| v * v).sum();
    let c = x.iter().step_by(2).map(|&v| v.powi(3)).sum::<f64>();
    let d: f64 = x.iter().cloned().rev().skip(4).product();
    let e: f64 = (0..3).map(|i| x[2 * i] * x[2 * i + 1]).sum();
    a + b + c + d + e
}

#[test]
fn chains() {
    let split = |p: [f64; 8]| ([p[0], p[1], p[2], p[3]], [p[4], p[5], p[6], p[7]]);
    check(
        "dot",
        &[[0.5, -1.0, 2.0, 1.5, 0.3, -0.7, 1.1, 2.0]],
        FD,
        |p| {
            let (x, y) = split(p);
            dot(x, y)
        },
        |p| {
            let (x, y) = split(p);
            let (v, dx, dy) = dot_grad(x, y);
            (v, [dx[0], dx[1], dx[2], dx[3], dy[0], dy[1], dy[2], dy[3]])
        },
        |p, d| {
            let (x, y) = split(p);
            let (dx, dy) = split(d);
            dot_jvp(x, dx, y, dy)
        },
        |p| [p[4], p[5], p[6], p[7], p[0], p[1], p[2], p[3]],
    );
    let points = [[0.5, -1.0, 2.0, 1.5], [1.2, 0.7, -0.3, 2.5]];
    check(
        "product",
        &points,
        FD,
        product,
        product_grad,
        product_jvp,
        |x| std::array::from_fn(|i| (0..4).filter(|&j| j != i).map(|j| x[j]).product()),
    );
    check("fold", &points, FD, fold, fold_grad, fold_jvp, |x| {
        // acc_k = 0.5 acc_{k-1} + sin(x_k): x_k enters scaled by 0.5^(3-k).
        let scale = [0.125, 0.25, 0.5, 1.0];
        std::array::from_fn(|k| scale[k] * x[k].cos())
    });
    check(
        "fold_max",
        &points,
        FD,
        fold_max,
        fold_max_grad,
        fold_max_jvp,
        |x| {
            let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let at = x.iter().position(|&v| v == m).unwrap();
            std::array::from_fn(|i| if i == at { 1.0 } else { 0.0 })
        },
    );
    check(
        "adaptors",
        &[[0.5, -1.0, 2.0, 1.5, 0.3, 0.9]],
        FD,
        adaptors,
        adaptors_grad,
        adaptors_jvp,
        |x| {
            let mut g = [5.0, 4.0, 3.0, 2.0, 1.0, 0.0];
            for i in 1..4 {
                g[i] += 2.0 * x[i];
            }
            for i in (0..6).step_by(2) {
                g[i] += 3.0 * x[i] * x[i];
            }
            g[0] += x[1];
            g[1] += x[0];
            for i in (0..6).step_by(2) {
                g[i] += x[i + 1];
                g[i + 1] += x[i];
            }
            g
        },
    );
}

#[differentiate(reverse, forward)]
fn slice_chain(x: &[f64], y: &[f64]) -> f64 {
    let head: f64 = x[..2].iter().map(|v| v * v).sum();
    let tail = &x[1..];
    let mut s = head;
    for (a, b) in tail.iter().zip(y) {
        s += a.sin() * b;
    }
    s
}

#[test]
fn slices() {
    let x = [0.5, -1.0, 2.0, 1.5];
    let y = [0.3, -0.7, 1.1];
    let (v, dx, dy) = slice_chain_grad(&x, &y);
    assert_eq!(v.to_bits(), slice_chain(&x, &y).to_bits());
    let want_dx = [
        2.0 * x[0],
        2.0 * x[1] + x[1].cos() * y[0],
        x[2].cos() * y[1],
        x[3].cos() * y[2],
    ];
    let want_dy = [x[1].sin(), x[2].sin(), x[3].sin()];
    for i in 0..4 {
        assert_close("slice_chain dx", dx[i], want_dx[i], REL);
    }
    for i in 0..3 {
        assert_close("slice_chain dy", dy[i], want_dy[i], REL);
    }
    check_gradient_with(|v| slice_chain(v, &y), &x, &dx, FD).unwrap();
    check_gradient_with(|v| slice_chain(&x, v), &y, &dy, FD).unwrap();
    let d = [0.1, 0.2, -0.3, 0.4];
    let e = [0.5, -0.6, 0.7];
    let (vj, t) = slice_chain_jvp(&x, &d, &y, &e);
    assert_eq!(vj.to_bits(), v.to_bits());
    let want: f64 = d.iter().zip(&dx).map(|(a, b)| a * b).sum::<f64>()
        + e.iter().zip(&dy).map(|(a, b)| a * b).sum::<f64>();
    assert_close("slice_chain jvp", t, want, 1e-12);
}

// ---------------------------------------------------------------------------------------------
// `array.map` and closures.

#[differentiate(reverse, forward)]
fn array_map(x: [f64; 3]) -> f64 {
    let s = x.map(|v| 0.5 * v.sin());
    let e = x.map(f64::exp);
    s.iter().zip(e.iter()).map(|(a, b)| a * b).sum()
}

/// A second difference of a window, passed to `map` by name.
#[differentiate(reverse, forward)]
fn stencil(v: &[f64]) -> f64 {
    v[0] - 2.0 * v[1] + v[2]
}

/// Squared second differences through a function passed by name, `.map(curvature)`, as clippy's
/// `redundant_closure` would have `.map(|w| curvature(w))` written.
#[differentiate(reverse, forward)]
fn curvature(v: &[f64]) -> f64 {
    let c = stencil(v);
    c * c
}

#[differentiate(reverse, forward)]
fn roughness(u: &[f64]) -> f64 {
    u.windows(3).map(curvature).sum::<f64>() + u.iter().copied().map(f64::sin).sum::<f64>()
}

#[test]
fn a_function_passed_to_map_by_name() {
    let u = [0.3, -1.2, 0.7, 2.0, -0.4];
    let (value, g) = roughness_grad(&u);
    assert_eq!(value, roughness(&u));
    let mut want: Vec<f64> = u.iter().map(|x| x.cos()).collect();
    for i in 0..3 {
        let c = u[i] - 2.0 * u[i + 1] + u[i + 2];
        want[i] += 2.0 * c;
        want[i + 1] -= 4.0 * c;
        want[i + 2] += 2.0 * c;
    }
    for (k, (a, b)) in g.iter().zip(&want).enumerate() {
        assert_close(&format!("∂roughness/∂u{k}"), *a, *b, 1e-12);
    }
    let d = [1.0, 0.5, -0.25, 0.0, 2.0];
    let (_, t) = roughness_jvp(&u, &d);
    let want_t: f64 = want.iter().zip(&d).map(|(a, b)| a * b).sum();
    assert_close("roughness jvp", t, want_t, 1e-12);
}

/// `map` of an array literal, as `cachefwd.c` of Enzyme's tests reads with iterators.
#[differentiate(reverse, forward)]
fn literal_map(x: [f64; 3]) -> f64 {
    let s = [x[0], x[1], x[0] * x[2]].map(f64::sin);
    s[0] + s[1] * s[2]
}

#[differentiate(reverse, forward)]
fn closures(x: [f64; 3]) -> f64 {
    let a = 2.0 * x[0];
    let scale = |v: f64| v * a;
    let a = 3.0;
    let square = |v: f64| v * v;
    let add = |u: f64, v: f64| u + v;
    add(scale(x[1]), square(x[2])) + a + x.iter().map(|&v| square(v)).sum::<f64>()
}

#[test]
fn maps_and_closures() {
    check(
        "array_map",
        &[[0.5, -1.0, 2.0]],
        FD,
        array_map,
        array_map_grad,
        array_map_jvp,
        |x| x.map(|v| (0.5 * v.cos() + 0.5 * v.sin()) * v.exp()),
    );
    check(
        "literal_map",
        &[[0.5, -1.0, 2.0]],
        FD,
        literal_map,
        literal_map_grad,
        literal_map_jvp,
        |x| {
            let (s1, c0, c1, c2) = (x[1].sin(), x[0].cos(), x[1].cos(), (x[0] * x[2]).cos());
            let s2 = (x[0] * x[2]).sin();
            [c0 + s1 * c2 * x[2], c1 * s2, s1 * c2 * x[0]]
        },
    );
    check(
        "closures",
        &[[0.5, -1.0, 2.0]],
        FD,
        closures,
        closures_grad,
        closures_jvp,
        |x| {
            [
                2.0 * x[1] + 2.0 * x[0],
                2.0 * x[0] + 2.0 * x[1],
                2.0 * x[2] + 2.0 * x[2],
            ]
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Patterns, references and array values.

#[differentiate(reverse, forward)]
fn destructure(p: &[f64; 2], q: [f64; 2]) -> f64 {
    let [x1, x2] = *p;
    let [y1, y2] = q;
    let (u, v) = (x1 * y2, x2.sin());
    let [a, b] = [u + v, u - v];
    a * b + y1
}

#[differentiate(reverse, forward)]
fn array_values(x: [f64; 3]) -> f64 {
    let c = [0.5, -1.0, 2.0];
    let w = [x[0] * x[1], x[2], 1.0];
    c.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() + norm2(&x) + dot3(w, [1.0, 2.0, 3.0])
}

#[differentiate(reverse, forward)]
fn norm2(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

#[differentiate(reverse, forward)]
fn dot3(a: [f64; 3], b: [f64; 3]) -> f64 {
    a.iter().zip(b.iter()).map(|(u, v)| u * v).sum()
}

#[differentiate(reverse, forward)]
fn copies(x: [f64; 3]) -> f64 {
    let mut h = x;
    h[0] = h[1] * h[2];
    let g = h;
    h[1] = 0.0;
    g.iter().sum::<f64>() + h.iter().sum::<f64>()
}

#[test]
fn patterns_and_arrays() {
    check(
        "destructure",
        &[[0.5, -1.0, 2.0, 1.5]],
        FD,
        |p| destructure(&[p[0], p[1]], [p[2], p[3]]),
        |p| {
            let (v, dp, dq) = destructure_grad(&[p[0], p[1]], [p[2], p[3]]);
            (v, [dp[0], dp[1], dq[0], dq[1]])
        },
        |p, d| destructure_jvp(&[p[0], p[1]], &[d[0], d[1]], [p[2], p[3]], [d[2], d[3]]),
        |p| {
            // a * b = u² - v², u = x1 * y2, v = sin x2.
            let u = p[0] * p[3];
            let v = p[1].sin();
            [2.0 * u * p[3], -2.0 * v * p[1].cos(), 1.0, 2.0 * u * p[0]]
        },
    );
    check(
        "copies",
        &[[0.5, -1.0, 2.0]],
        FD,
        copies,
        copies_grad,
        copies_jvp,
        |x| {
            // g = [x1 x2, x1, x2], h = [x1 x2, 0, x2].
            [0.0, 2.0 * x[2] + 1.0, 2.0 * x[1] + 2.0]
        },
    );
    check(
        "array_values",
        &[[0.5, -1.0, 2.0]],
        FD,
        array_values,
        array_values_grad,
        array_values_jvp,
        |x| {
            // 0.5 x0 x1 - x2 + |x|² + x0 x1 + 2 x2 + 3
            [
                1.5 * x[1] + 2.0 * x[0],
                1.5 * x[0] + 2.0 * x[1],
                1.0 + 2.0 * x[2],
            ]
        },
    );
}

// ---------------------------------------------------------------------------------------------
// `match`.

#[differentiate(reverse, forward)]
fn match_value(x: f64, k: i32) -> f64 {
    let y = match k {
        0 => x,
        1 | 2 => x * x,
        n if n < 0 => -x,
        3..=9 => x.sin(),
        _ => x.exp(),
    };
    y * 2.0
}

#[differentiate(reverse, forward)]
fn match_stmt(x: [f64; 3], flag: bool) -> f64 {
    let mut s = 0.0;
    for (i, v) in x.iter().enumerate() {
        match i {
            0 => s += v * v,
            1 => {
                s += v.sin();
            }
            _ => s *= v,
        }
    }
    match flag {
        true => s + x[0],
        false => s - x[0],
    }
}

#[differentiate(reverse, forward)]
fn match_tuple(x: f64, k: u8, flag: bool) -> f64 {
    match (k, flag) {
        (0, true) => x * x,
        (0, false) | (1, _) => 3.0 * x,
        (n @ 2..=5, _) => x.powi(i32::from(n)),
        _ => 1.0,
    }
}

#[differentiate(reverse, forward)]
fn match_exponent(x: [f64; 4], k: usize) -> f64 {
    let mut s = 0.0_f64;
    for (i, v) in x.iter().enumerate() {
        let e = match (i + k) % 3 {
            0 => 2,
            1 => 3,
            _ => 1,
        };
        s += v.powi(e) * s.cos();
    }
    s
}

#[test]
fn matches() {
    type Derivative = fn(f64) -> f64;
    type Case = (u8, bool, fn(f64) -> f64);
    // s_i = s_{i-1} + x_i^e_i cos(s_{i-1}), differentiated by the recurrence (forward, by hand).
    let exponent = |x: [f64; 4], k: usize| -> (f64, [f64; 4]) {
        let mut s = 0.0_f64;
        let mut ds = [0.0; 4];
        for (i, &v) in x.iter().enumerate() {
            let e = [2, 3, 1][(i + k) % 3];
            let c = s.cos();
            let p = v.powi(e);
            let dp = f64::from(e) * v.powi(e - 1);
            for (j, d) in ds.iter_mut().enumerate() {
                *d = *d * (1.0 - p * s.sin()) + if j == i { dp * c } else { 0.0 };
            }
            s += p * c;
        }
        (s, ds)
    };
    for k in [0, 1, 2] {
        check(
            &format!("match_exponent k = {k}"),
            &[[0.5, -1.0, 2.0, 1.5]],
            FD,
            |p| match_exponent(p, k),
            |p| match_exponent_grad(p, k),
            |p, d| match_exponent_jvp(p, d, k),
            |p| exponent(p, k).1,
        );
    }
    let cases: [(i32, Derivative); 6] = [
        (0, |_| 2.0),
        (1, |x| 4.0 * x),
        (2, |x| 4.0 * x),
        (-3, |_| -2.0),
        (5, |x| 2.0 * x.cos()),
        (10, |x| 2.0 * x.exp()),
    ];
    for (k, d) in cases {
        check(
            &format!("match_value k = {k}"),
            &[[0.7], [-1.3]],
            FD,
            |p| match_value(p[0], k),
            |p| {
                let (v, dx) = match_value_grad(p[0], k);
                (v, [dx])
            },
            |p, d| match_value_jvp(p[0], d[0], k),
            |p| [d(p[0])],
        );
    }
    let tuples: [Case; 6] = [
        (0, true, |x| 2.0 * x),
        (0, false, |_| 3.0),
        (1, true, |_| 3.0),
        (3, false, |x| 3.0 * x * x),
        (5, true, |x| 5.0 * x.powi(4)),
        (9, true, |_| 0.0),
    ];
    for (k, flag, d) in tuples {
        check(
            &format!("match_tuple ({k}, {flag})"),
            &[[0.7], [-1.3]],
            FD,
            |p| match_tuple(p[0], k, flag),
            |p| {
                let (v, dx) = match_tuple_grad(p[0], k, flag);
                (v, [dx])
            },
            |p, dp| match_tuple_jvp(p[0], dp[0], k, flag),
            |p| [d(p[0])],
        );
    }
    for flag in [true, false] {
        let sign = if flag { 1.0 } else { -1.0 };
        check(
            "match_stmt",
            &[[0.5, -1.0, 2.0]],
            FD,
            |p| match_stmt(p, flag),
            |p| {
                let (v, dx) = match_stmt_grad(p, flag);
                (v, dx)
            },
            |p, d| match_stmt_jvp(p, d, flag),
            |x| {
                // s = (x0² + sin x1) x2
                [
                    2.0 * x[0] * x[2] + sign,
                    x[1].cos() * x[2],
                    x[0] * x[0] + x[1].sin(),
                ]
            },
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Assertions and conversions.

#[differentiate(reverse, forward)]
fn asserted(x: [f64; 2]) -> f64 {
    assert!(x[0] > 0.0, "x[0] must be positive, got {}", x[0]);
    debug_assert!(x[1].abs() < 1e300);
    assert_eq!(x.len(), 2);
    assert_ne!(x[0], 0.0);
    debug_assert_eq!(x.len(), 2, "two coordinates");
    x[0].ln() * x[1]
}

#[differentiate(reverse, forward)]
fn widened(x: f32, y: f64) -> f64 {
    let w: f64 = x.into();
    let z = f64::from(x);
    w * y + z
}

#[test]
fn assertions_and_conversions() {
    check(
        "asserted",
        &[[0.5, -1.0], [2.0, 3.0]],
        FD,
        asserted,
        asserted_grad,
        asserted_jvp,
        |x| [x[1] / x[0], x[0].ln()],
    );
    let (v, dx, dy) = widened_grad(1.5, 2.0);
    assert_eq!(v.to_bits(), widened(1.5, 2.0).to_bits());
    assert_close("widened dx", f64::from(dx), 3.0, REL);
    assert_close("widened dy", dy, 1.5, REL);
    let (_, t) = widened_jvp(1.5, 1.0, 2.0, 0.0);
    assert_close("widened jvp", t, 3.0, REL);
}

#[test]
#[should_panic(expected = "x[0] must be positive, got -1")]
fn assertion_kept_in_the_gradient() {
    let _ = asserted_grad([-1.0, 2.0]);
}

#[test]
#[should_panic(expected = "x[0] must be positive")]
fn assertion_kept_in_forward_mode() {
    let _ = asserted_jvp([-1.0, 2.0], [1.0, 0.0]);
}

// ---------------------------------------------------------------------------------------------
// `f32`, and control flow through iterators.

#[differentiate(reverse, forward)]
fn sum_f32(x: [f32; 3]) -> f32 {
    x.iter().map(|v| v * v).sum::<f32>()
}

#[differentiate(reverse, forward)]
fn early_exit(x: [f64; 4]) -> f64 {
    let mut s = 0.0;
    for v in x.iter().rev() {
        if *v < 0.0 {
            break;
        }
        s += v.sqrt();
    }
    s
}

#[test]
fn f32_and_early_exit() {
    common::check_f32(
        "sum_f32",
        &[[0.5, -1.0, 2.0]],
        sum_f32,
        sum_f32_grad,
        sum_f32_jvp,
        |x| x.map(|v| 2.0 * v),
    );
    check(
        "early_exit",
        &[[1.0, -1.0, 2.0, 1.5], [1.0, 4.0, 2.0, 1.5]],
        FD,
        early_exit,
        early_exit_grad,
        early_exit_jvp,
        |x| {
            let mut g = [0.0; 4];
            for i in (0..4).rev() {
                if x[i] < 0.0 {
                    break;
                }
                g[i] = 0.5 / x[i].sqrt();
            }
            g
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Chains inside loops, over local arrays, with block closures, and empty.

#[differentiate(reverse, forward)]
fn nested(x: [f64; 3], m: [f64; 6], n: usize) -> f64 {
    let mut total = 0.0;
    for row in m.chunks_exact(3) {
        let mut h = [0.0; 3];
        for (k, (a, b)) in row.iter().zip(&x).enumerate() {
            h[k] = (a * b).tanh();
        }
        let squash = |v: f64| {
            let t = v * v;
            t / (1.0 + t)
        };
        total += h.iter().fold(0.0, |acc, &v| {
            let s = squash(v);
            acc + s * x[0]
        });
    }
    let empty: f64 = x.iter().skip(n).sum();
    let none: f64 = (n..3).map(|i| x[i]).product();
    total + empty + none
}

fn nested_closed(p: [f64; 9]) -> [f64; 9] {
    // total = Σ_rows Σ_k q(tanh(m_rk x_k)) x0, q(v) = v² / (1 + v²), q'(v) = 2v / (1 + v²)²;
    // `none` is the empty product, 1.
    let (x, m) = (&p[..3], &p[3..]);
    let mut g = [0.0; 9];
    for r in 0..2 {
        for k in 0..3 {
            let z = m[3 * r + k] * x[k];
            let h = z.tanh();
            let q = h * h / (1.0 + h * h);
            let dq = 2.0 * h / (1.0 + h * h).powi(2);
            let dh = 1.0 - h * h;
            g[0] += q;
            g[k] += x[0] * dq * dh * m[3 * r + k];
            g[3 + 3 * r + k] += x[0] * dq * dh * x[k];
        }
    }
    g
}

#[test]
fn chains_in_loops() {
    let split = |p: [f64; 9]| ([p[0], p[1], p[2]], [p[3], p[4], p[5], p[6], p[7], p[8]]);
    check(
        "nested",
        &[[0.5, -1.0, 2.0, 1.5, 0.3, -0.7, 1.1, 0.2, -0.4]],
        FD,
        |p| {
            let (x, m) = split(p);
            nested(x, m, 5)
        },
        |p| {
            let (x, m) = split(p);
            let (v, dx, dm) = nested_grad(x, m, 5);
            let mut g = [0.0; 9];
            g[..3].copy_from_slice(&dx);
            g[3..].copy_from_slice(&dm);
            (v, g)
        },
        |p, d| {
            let (x, m) = split(p);
            let (dx, dm) = split(d);
            nested_jvp(x, dx, m, dm, 5)
        },
        nested_closed,
    );
}

// ---------------------------------------------------------------------------------------------
// Sub-slices, windows and chunks passed to differentiated functions.

#[differentiate(reverse, forward)]
fn parts(x: [f64; 6]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        s += norm2(&x[2 * i..2 * i + 2]) * x[i];
    }
    for w in x.windows(3) {
        s += norm2(w) * w[0];
    }
    for c in x.chunks_exact(3) {
        s += norm2(c);
    }
    s + norm2(&x[4..]) + norm2(&x[..=1])
}

fn parts_closed(x: [f64; 6]) -> [f64; 6] {
    let mut g = [0.0; 6];
    for i in 0..3 {
        let n: f64 = x[2 * i..2 * i + 2].iter().map(|v| v * v).sum();
        g[i] += n;
        g[2 * i] += 2.0 * x[2 * i] * x[i];
        g[2 * i + 1] += 2.0 * x[2 * i + 1] * x[i];
    }
    for j in 0..4 {
        let n: f64 = x[j..j + 3].iter().map(|v| v * v).sum();
        g[j] += n;
        for k in j..j + 3 {
            g[k] += 2.0 * x[k] * x[j];
        }
    }
    for (k, gk) in g.iter_mut().enumerate() {
        *gk += 2.0 * x[k];
        if k >= 4 || k <= 1 {
            *gk += 2.0 * x[k];
        }
    }
    g
}

/// A product over parts: the loop is reversed, not fused, so each call's gradient is saved.
#[differentiate(reverse, forward)]
fn parts_product(x: [f64; 6]) -> f64 {
    let mut p = 1.0;
    for i in 0..3 {
        p *= norm2(&x[2 * i..2 * i + 2]);
    }
    p
}

#[test]
fn parts_as_arguments() {
    check(
        "parts",
        &[[0.5, -1.0, 2.0, 1.5, 0.3, 0.9]],
        FD,
        parts,
        parts_grad,
        parts_jvp,
        parts_closed,
    );
    check(
        "parts_product",
        &[[0.5, -1.0, 2.0, 1.5, 0.3, 0.9]],
        FD,
        parts_product,
        parts_product_grad,
        parts_product_jvp,
        |x| {
            let n: Vec<f64> = x
                .chunks_exact(2)
                .map(|c| c[0] * c[0] + c[1] * c[1])
                .collect();
            let p: f64 = n.iter().product();
            std::array::from_fn(|j| p / n[j / 2] * 2.0 * x[j])
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Chains over ranges.

#[differentiate(reverse, forward)]
fn ranges(x: [f64; 6]) -> f64 {
    let mut s = 0.0;
    for i in (0..x.len()).step_by(2) {
        s += x[i] * x[i + 1];
    }
    let t: f64 = (1..=3).rev().map(|i| x[i] * i as f64).sum();
    let u: f64 = x.iter().zip(2..4).map(|(v, k)| v * f64::from(k)).sum();
    s + t + u
}

#[test]
fn range_chains() {
    check(
        "ranges",
        &[[0.5, -1.0, 2.0, 1.5, 0.3, 0.9]],
        FD,
        ranges,
        ranges_grad,
        ranges_jvp,
        |x| {
            [
                x[1] + 2.0,
                x[0] + 1.0 + 3.0,
                x[3] + 2.0,
                x[2] + 3.0,
                x[5],
                x[4],
            ]
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Iterators over run-time-sized buffers.

#[differentiate(reverse, forward)]
fn buffer_chain(x: &[f64]) -> f64 {
    let mut h = vec![0.0; x.len()];
    for (i, v) in x.iter().enumerate() {
        h[i] = v.sin();
    }
    let ends = h.windows(2).map(|w| w[0] * w[1]).sum::<f64>();
    h.iter().map(|v| v * v).sum::<f64>() + ends + h.len() as f64
}

#[test]
fn buffers() {
    let x = [0.5, -1.0, 2.0, 1.5];
    let (v, g) = buffer_chain_grad(&x);
    assert_eq!(v.to_bits(), buffer_chain(&x).to_bits());
    let s: Vec<f64> = x.iter().map(|v| v.sin()).collect();
    for i in 0..4 {
        let left = if i > 0 { s[i - 1] } else { 0.0 };
        let right = if i < 3 { s[i + 1] } else { 0.0 };
        let want = (2.0 * s[i] + left + right) * x[i].cos();
        assert_close("buffer_chain", g[i], want, REL);
    }
    check_gradient_with(buffer_chain, &x, &g, FD).unwrap();
    let (vj, t) = buffer_chain_jvp(&x, &[0.0, 1.0, 0.0, 0.0]);
    assert_eq!(vj.to_bits(), v.to_bits());
    assert_close("buffer_chain jvp", t, g[1], REL);
}

// ---------------------------------------------------------------------------------------------
// Windows of slices of every length, the shorter ones with no window at all.

/// `Σ_i (i + 1) · w₀ · w₂ · sin(w₁)` over the windows of three, by `for` over `enumerate`.
#[differentiate(reverse, forward, hessian)]
fn triples(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for (i, w) in x.windows(3).enumerate() {
        s += (i + 1) as f64 * w[0] * w[2] * w[1].sin();
    }
    s
}

/// The same windows through `fold`, with a weight from `len`.
#[differentiate(reverse, forward)]
fn pairs_fold(x: &[f64]) -> f64 {
    x.windows(2)
        .fold(0.5, |acc, w| acc * 0.9 + w[0] * w[1] * w.len() as f64)
}

#[test]
fn windows_of_short_slices() {
    for n in 0..7 {
        let x: Vec<f64> = (0..n).map(|k| 0.3 + 0.7 * (k as f64).cos()).collect();
        // Closed forms.
        let mut want = vec![0.0; n];
        let mut value = 0.0;
        for j in 0..n.saturating_sub(2) {
            let c = (j + 1) as f64;
            value += c * x[j] * x[j + 2] * x[j + 1].sin();
            want[j] += c * x[j + 2] * x[j + 1].sin();
            want[j + 1] += c * x[j] * x[j + 2] * x[j + 1].cos();
            want[j + 2] += c * x[j] * x[j + 1].sin();
        }
        let (v, g) = triples_grad(&x);
        assert_eq!(v.to_bits(), triples(&x).to_bits(), "n = {n}");
        assert_close("triples value", v, value, REL);
        for k in 0..n {
            assert_close("triples", g[k], want[k], REL);
        }
        if n > 0 {
            check_gradient_with(triples, &x, &g, FD).unwrap();
            let mut dir = vec![0.0; n];
            dir[n - 1] = 1.0;
            let (_, t) = triples_jvp(&x, &dir);
            assert_close("triples jvp", t, g[n - 1], REL);
            // H·e_last against central differences of the gradient.
            let (_, _, hv) = triples_hvp(&x, &dir);
            let h = 1e-5;
            let (mut up, mut down) = (x.clone(), x.clone());
            up[n - 1] += h;
            down[n - 1] -= h;
            let (gu, gd) = (triples_grad(&up).1, triples_grad(&down).1);
            for k in 0..n {
                assert_close("triples hvp", hv[k], (gu[k] - gd[k]) / (2.0 * h), 1e-6);
            }
        }
        // fold: acc_{j+1} = 0.9 acc_j + 2 x_j x_{j+1}; ∂/∂x_k by the chain back from the end.
        let windows = n.saturating_sub(1);
        let (v, g) = pairs_fold_grad(&x);
        assert_eq!(v.to_bits(), pairs_fold(&x).to_bits(), "n = {n}");
        let mut want = vec![0.0; n];
        let mut weight = 1.0;
        for j in (0..windows).rev() {
            want[j] += weight * 2.0 * x[j + 1];
            want[j + 1] += weight * 2.0 * x[j];
            weight *= 0.9;
        }
        for k in 0..n {
            assert_close("pairs_fold", g[k], want[k], REL);
        }
    }
}

// Fields of struct parameters as iterator sources: `&p.w`, `p.w.iter()`, `zip(&p.w)`, windows
// and sub-slices of a field, for a struct `wrt` names, a constant struct and `self`.

#[derive(Default, Debug, Clone, PartialEq)]
struct Net {
    w: [f64; 2],
}

/// f = Σ xᵢ wᵢ: ∂f/∂wⱼ = xⱼ.
#[differentiate(reverse, forward, wrt(net))]
fn zip_field(net: &Net, x: &[f64]) -> f64 {
    x.iter().zip(&net.w).map(|(a, b)| a * b).sum::<f64>()
}

/// f = Σ sin(wᵢ xᵢ): ∂f/∂wⱼ = xⱼ cos(wⱼ xⱼ).
#[differentiate(reverse, forward, wrt(net))]
fn field_zip(net: &Net, x: &[f64]) -> f64 {
    net.w.iter().zip(x).map(|(w, a)| (w * a).sin()).sum::<f64>()
}

/// f = Σ wᵢ² x + Σ (i + 1) e^{wᵢ}: ∂f/∂wⱼ = 2 wⱼ x + (j + 1) e^{wⱼ}.
#[differentiate(reverse, forward, wrt(net))]
fn for_field(net: &Net, x: f64) -> f64 {
    let mut s = 0.0;
    for w in &net.w {
        s += w * w * x;
    }
    for (i, w) in net.w.iter().enumerate() {
        s += (i as f64 + 1.0) * w.exp();
    }
    s
}

/// A constant struct: f = Σ sin(wᵢ xᵢ) + Π (1 + wᵢ xᵢ), with respect to `x`:
/// ∂f/∂xⱼ = wⱼ cos(wⱼ xⱼ) + wⱼ Π_{i≠j} (1 + wᵢ xᵢ).
#[differentiate(reverse, forward)]
fn const_field(net: &Net, x: &[f64]) -> f64 {
    let mut p = 1.0;
    for (w, a) in net.w.iter().zip(x) {
        p *= 1.0 + w * a;
    }
    net.w.iter().zip(x).map(|(w, a)| (w * a).sin()).sum::<f64>() + p
}

#[test]
fn field_arrays_are_iterator_sources() {
    let points = [[0.5, -1.5], [-0.7, 0.2]];
    let net = |p: [f64; 2]| Net { w: p };
    let x = [0.3, 1.1];
    check(
        "zip_field",
        &points,
        FD,
        |p| zip_field(&net(p), &x),
        |p| {
            let (v, g) = zip_field_grad(&net(p), &x);
            (v, g.w)
        },
        |p, d| zip_field_jvp(&net(p), &net(d), &x),
        |_| x,
    );
    check(
        "field_zip",
        &points,
        FD,
        |p| field_zip(&net(p), &x),
        |p| {
            let (v, g) = field_zip_grad(&net(p), &x);
            (v, g.w)
        },
        |p, d| field_zip_jvp(&net(p), &net(d), &x),
        |p| [x[0] * (p[0] * x[0]).cos(), x[1] * (p[1] * x[1]).cos()],
    );
    // A shorter `x` stops the zip: the second weight is not read.
    let (_, g) = zip_field_grad(&Net { w: [2.0, 3.0] }, &[5.0]);
    assert_eq!(g.w, [5.0, 0.0]);
    check(
        "for_field",
        &points,
        FD,
        |p| for_field(&net(p), -0.8),
        |p| {
            let (v, g) = for_field_grad(&net(p), -0.8);
            (v, g.w)
        },
        |p, d| for_field_jvp(&net(p), &net(d), -0.8),
        |p| {
            [
                2.0 * p[0] * -0.8 + p[0].exp(),
                2.0 * p[1] * -0.8 + 2.0 * p[1].exp(),
            ]
        },
    );
    let w = Net { w: [0.8, -1.3] };
    check(
        "const_field",
        &[[0.4, 1.7], [-0.9, 0.25]],
        FD,
        |x| const_field(&w, &x),
        |x| {
            let (v, g) = const_field_grad(&w, &x);
            (v, [g[0], g[1]])
        },
        |x, d| const_field_jvp(&w, &x, &d),
        |x| {
            let (u0, u1) = (1.0 + w.w[0] * x[0], 1.0 + w.w[1] * x[1]);
            [
                w.w[0] * (w.w[0] * x[0]).cos() + w.w[0] * u1,
                w.w[1] * (w.w[1] * x[1]).cos() + w.w[1] * u0,
            ]
        },
    );
}

#[derive(Default, Debug, Clone, PartialEq)]
struct Series {
    c: Vec<f64>,
    inner: Net,
}

impl Series {
    /// f = Σₖ cₖ xᵏ (Horner, from the back) + c₀ Σᵢ vᵢ², `v = inner.w`:
    /// ∂f/∂cₖ = xᵏ + [k = 0] Σ vᵢ², ∂f/∂vᵢ = 2 c₀ vᵢ.
    #[differentiate(reverse, forward, hessian, wrt(self))]
    fn eval(&self, x: f64) -> f64 {
        let p = self.c.iter().rev().fold(0.0, |acc, c| acc * x + c);
        let mut s = 0.0;
        for v in self.inner.w.iter() {
            s += v * v;
        }
        p + self.c[0] * s
    }

    /// With `self` constant: f = Σ cₖ aₖ², ∂f/∂aⱼ = 2 cⱼ aⱼ.
    #[differentiate(reverse, forward)]
    fn weigh(&self, a: &[f64]) -> f64 {
        self.c.iter().zip(a).map(|(c, a)| c * a * a).sum::<f64>()
    }
}

/// Windows and a sub-slice of a `Vec` field: f = Σ vⱼ vⱼ₊₁ + Σ_{j≥1} vⱼ,
/// ∂f/∂vⱼ = vⱼ₋₁ + vⱼ₊₁ (where they exist) + [j ≥ 1].
#[differentiate(reverse, forward, wrt(s))]
fn field_windows(s: &Series) -> f64 {
    s.c.windows(2).map(|p| p[0] * p[1]).sum::<f64>() + s.c[1..].iter().sum::<f64>()
}

#[test]
fn field_arrays_of_self_and_vec_fields_are_iterator_sources() {
    let series = |p: [f64; 5]| Series {
        c: vec![p[0], p[1], p[2]],
        inner: Net { w: [p[3], p[4]] },
    };
    let flat = |s: &Series| [s.c[0], s.c[1], s.c[2], s.inner.w[0], s.inner.w[1]];
    let x = 0.7;
    let points = [[0.5, -1.5, 0.3, 1.1, -0.6], [-0.7, 0.2, 2.0, -0.4, 0.9]];
    check(
        "eval",
        &points,
        FD,
        |p| series(p).eval(x),
        |p| {
            let (v, g) = series(p).eval_grad(x);
            assert_eq!(g.c.len(), 3);
            (v, flat(&g))
        },
        |p, d| series(p).eval_jvp(&series(d), x),
        |p| {
            let sq = p[3] * p[3] + p[4] * p[4];
            [1.0 + sq, x, x * x, 2.0 * p[0] * p[3], 2.0 * p[0] * p[4]]
        },
    );
    // H·v by hand: the only second derivatives are ∂²/∂c₀∂vᵢ = 2vᵢ and ∂²/∂vᵢ² = 2c₀.
    let p = points[0];
    let d = [0.3, -0.2, 0.9, 0.5, -1.1];
    let (v, g, hv) = series(p).eval_hvp(&series(d), x);
    assert_eq!((v, g), series(p).eval_grad(x));
    let want = [
        2.0 * (p[3] * d[3] + p[4] * d[4]),
        0.0,
        0.0,
        2.0 * p[3] * d[0] + 2.0 * p[0] * d[3],
        2.0 * p[4] * d[0] + 2.0 * p[0] * d[4],
    ];
    for (k, (got, want)) in flat(&hv).into_iter().zip(want).enumerate() {
        assert!(
            (got - want).abs() <= 1e-12 * want.abs(),
            "eval hvp[{k}]: {got} vs {want}"
        );
    }
    let s = series(points[1]);
    check(
        "weigh",
        &[[0.4, 1.7, -0.3], [-0.9, 0.25, 1.2]],
        FD,
        |a| s.weigh(&a),
        |a| {
            let (v, g) = s.weigh_grad(&a);
            (v, [g[0], g[1], g[2]])
        },
        |a, d| s.weigh_jvp(&a, &d),
        |a| std::array::from_fn(|j| 2.0 * s.c[j] * a[j]),
    );
    let with = |c: [f64; 4]| Series {
        c: c.to_vec(),
        inner: Net::default(),
    };
    check(
        "field_windows",
        &[[0.5, -1.5, 0.3, 1.1], [-0.7, 0.2, 2.0, -0.4]],
        FD,
        |c| field_windows(&with(c)),
        |c| {
            let (v, g) = field_windows_grad(&with(c));
            assert_eq!(g.inner, Net::default());
            (v, [g.c[0], g.c[1], g.c[2], g.c[3]])
        },
        |c, d| field_windows_jvp(&with(c), &with(d)),
        |c| {
            std::array::from_fn(|j| {
                let before = if j > 0 { c[j - 1] + 1.0 } else { 0.0 };
                let after = if j < 3 { c[j + 1] } else { 0.0 };
                before + after
            })
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Array and tuple values chosen by `if` and `match`, assigned whole, and returned by closures.

/// `H·d` against a Hessian derived by hand.
fn check_hvp<const N: usize>(name: &str, hv: [f64; N], hessian: [[f64; N]; N], d: [f64; N]) {
    for i in 0..N {
        let want: f64 = (0..N).map(|j| hessian[i][j] * d[j]).sum();
        assert_close(&format!("{name}: (H·d)[{i}]"), hv[i], want, REL);
    }
}

/// `q` replaced whole, each new element reading the old ones: `(x, 1) → (x, 2x) → (2x², 2x)`.
#[differentiate(reverse, forward, hessian)]
fn reassign_literal(x: f64) -> f64 {
    let mut q = [x, 1.0];
    for _ in 0..2 {
        q = [q[0] * q[1], q[0] + x];
    }
    q[0] + q[1]
}

/// `q = [v; 2]` and `q = [0.0; 2]` beside `q = [..]` in a branch of a loop:
/// `s = ab + a²b + b²`, then `+ b`, the last `q[0]`.
#[differentiate(reverse, forward, hessian)]
fn reassign_fill(x: [f64; 2]) -> f64 {
    let mut q = [x[0], x[1]];
    let mut s = 0.0;
    for i in 0..3 {
        s += q[0] * q[1];
        if i == 1 {
            q = [x[1]; 2];
        } else {
            q = [q[1], q[0] * x[0]];
        }
    }
    let t = q[0];
    q = [0.0; 2];
    q[1] += t;
    s + q[0] + q[1]
}

#[test]
fn whole_array_reassignment() {
    for x in [0.7, -1.3, 2.1] {
        check(
            "reassign_literal",
            &[[x]],
            FD,
            |p| reassign_literal(p[0]),
            |p| {
                let (v, g) = reassign_literal_grad(p[0]);
                (v, [g])
            },
            |p, d| reassign_literal_jvp(p[0], d[0]),
            |p| [4.0 * p[0] + 2.0],
        );
        let (v, g, hv) = reassign_literal_hvp(x, 0.5);
        assert_close("reassign_literal value", v, 2.0 * x * x + 2.0 * x, REL);
        assert_close("reassign_literal grad", g, 4.0 * x + 2.0, REL);
        check_hvp("reassign_literal", [hv], [[4.0]], [0.5]);
    }
    let points = [[0.4, 1.7], [-0.9, 0.25], [1.3, -0.6]];
    check(
        "reassign_fill",
        &points,
        FD,
        reassign_fill,
        reassign_fill_grad,
        reassign_fill_jvp,
        |[a, b]| [b + 2.0 * a * b, a + a * a + 2.0 * b + 1.0],
    );
    for [a, b] in points {
        let d = [0.3, -1.1];
        let (_, _, hv) = reassign_fill_hvp([a, b], d);
        check_hvp(
            "reassign_fill",
            hv,
            [[2.0 * b, 1.0 + 2.0 * a], [1.0 + 2.0 * a, 2.0]],
            d,
        );
    }
}

/// `let [a, b] = match ..`: `x₀²x₁` for `k = 0`, `x₁²x₀` otherwise.
#[differentiate(reverse, forward, hessian)]
fn match_array_pattern(x: [f64; 2], k: usize) -> f64 {
    let [a, b] = match k {
        0 => [x[0], x[1]],
        _ => [x[1], x[0]],
    };
    a * a * b
}

/// `let (a, b) = match ..` with a guard, an arm that returns and a block arm.
#[differentiate(reverse, forward, hessian)]
fn match_tuple_pattern(x: [f64; 2], k: i32) -> f64 {
    let (a, b) = match k {
        0 => (x[0], x[1]),
        j if j < 0 => return x[0] * x[1],
        _ => {
            let s = x[0] + x[1];
            (s, x[0] * x[1])
        }
    };
    a.sin() * b
}

/// `let (a, b) = if ..`: the larger first.
#[differentiate(reverse, forward, hessian)]
fn if_tuple_pattern(x: [f64; 2]) -> f64 {
    let (a, b) = if x[0] > x[1] {
        (x[0], x[1])
    } else {
        (x[1], x[0])
    };
    a * a + 3.0 * b
}

/// An array chosen by `if` bound by a name and changed, in a loop an arm leaves with `break`:
/// `x₀(x₁x₂ + 1) + x₂(x₂ + 1)`.
#[differentiate(reverse, forward, hessian)]
fn if_array_named(x: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        let mut p = if i == 2 {
            break;
        } else if i == 0 {
            [x[0], x[1] * x[2]]
        } else {
            [x[2]; 2]
        };
        p[1] += 1.0;
        s += p[0] * p[1];
    }
    s
}

#[test]
fn array_and_tuple_values_of_branches() {
    let points = [[0.4, 1.7], [-0.9, 0.25], [1.3, -0.6]];
    let d = [0.3, -1.1];
    for k in [0, 1] {
        check(
            "match_array_pattern",
            &points,
            FD,
            |p| match_array_pattern(p, k),
            |p| match_array_pattern_grad(p, k),
            |p, d| match_array_pattern_jvp(p, d, k),
            |[a, b]| {
                if k == 0 {
                    [2.0 * a * b, a * a]
                } else {
                    [b * b, 2.0 * a * b]
                }
            },
        );
        for [a, b] in points {
            let (_, _, hv) = match_array_pattern_hvp([a, b], d, k);
            let h = if k == 0 {
                [[2.0 * b, 2.0 * a], [2.0 * a, 0.0]]
            } else {
                [[0.0, 2.0 * b], [2.0 * b, 2.0 * a]]
            };
            check_hvp("match_array_pattern", hv, h, d);
        }
    }
    for k in [0, -2, 3] {
        check(
            "match_tuple_pattern",
            &points,
            FD,
            |p| match_tuple_pattern(p, k),
            |p| match_tuple_pattern_grad(p, k),
            |p, d| match_tuple_pattern_jvp(p, d, k),
            |[a, b]| match k {
                0 => [a.cos() * b, a.sin()],
                k if k < 0 => [b, a],
                _ => {
                    let (s, p) = (a + b, a * b);
                    [s.cos() * p + s.sin() * b, s.cos() * p + s.sin() * a]
                }
            },
        );
        for [a, b] in points {
            let (_, _, hv) = match_tuple_pattern_hvp([a, b], d, k);
            let h = match k {
                0 => [[-a.sin() * b, a.cos()], [a.cos(), 0.0]],
                k if k < 0 => [[0.0, 1.0], [1.0, 0.0]],
                _ => {
                    let (s, p) = (a + b, a * b);
                    let off = -s.sin() * p + s.cos() * (a + b) + s.sin();
                    [
                        [-s.sin() * p + 2.0 * s.cos() * b, off],
                        [off, -s.sin() * p + 2.0 * s.cos() * a],
                    ]
                }
            };
            check_hvp("match_tuple_pattern", hv, h, d);
        }
    }
    check(
        "if_tuple_pattern",
        &points,
        FD,
        if_tuple_pattern,
        if_tuple_pattern_grad,
        if_tuple_pattern_jvp,
        |[a, b]| {
            if a > b {
                [2.0 * a, 3.0]
            } else {
                [3.0, 2.0 * b]
            }
        },
    );
    for [a, b] in points {
        let (_, _, hv) = if_tuple_pattern_hvp([a, b], d);
        let h = if a > b {
            [[2.0, 0.0], [0.0, 0.0]]
        } else {
            [[0.0, 0.0], [0.0, 2.0]]
        };
        check_hvp("if_tuple_pattern", hv, h, d);
    }
    let points = [[0.4, 1.7, -0.3], [-0.9, 0.25, 1.2]];
    check(
        "if_array_named",
        &points,
        FD,
        if_array_named,
        if_array_named_grad,
        if_array_named_jvp,
        |[a, b, c]| [b * c + 1.0, a * c, a * b + 2.0 * c + 1.0],
    );
    for [a, b, c] in points {
        let d = [0.3, -1.1, 0.7];
        let (_, _, hv) = if_array_named_hvp([a, b, c], d);
        check_hvp(
            "if_array_named",
            hv,
            [[0.0, c, b], [c, 0.0, a], [b, a, 2.0]],
            d,
        );
    }
}

/// A closure returning an array, bound whole and by a pattern:
/// `x₀² + sin(x₀)·x₁² + sin(x₁)`.
#[differentiate(reverse, forward, hessian)]
fn closure_array(x: [f64; 2]) -> f64 {
    let pair = |a: f64| [a * a, a.sin()];
    let p = pair(x[0]);
    let [u, v] = pair(x[1]);
    p[0] + p[1] * u + v
}

/// A closure returning a tuple from a block, capturing `c`: `u·v = eˣ⁰x₁(eˣ⁰ + x₁)`.
#[differentiate(reverse, forward, hessian)]
fn closure_tuple(x: [f64; 2]) -> f64 {
    let c = x[1];
    let split = |a: f64| {
        let e = a.exp();
        (e * c, e + c)
    };
    let (u, v) = split(x[0]);
    u * v
}

#[test]
fn closures_returning_arrays_and_tuples() {
    let points = [[0.4, 1.7], [-0.9, 0.25], [1.3, -0.6]];
    let d = [0.3, -1.1];
    check(
        "closure_array",
        &points,
        FD,
        closure_array,
        closure_array_grad,
        closure_array_jvp,
        |[a, b]| [2.0 * a + a.cos() * b * b, 2.0 * a.sin() * b + b.cos()],
    );
    check(
        "closure_tuple",
        &points,
        FD,
        closure_tuple,
        closure_tuple_grad,
        closure_tuple_jvp,
        |[a, b]| {
            let e = a.exp();
            [2.0 * e * e * b + e * b * b, e * e + 2.0 * e * b]
        },
    );
    for [a, b] in points {
        let (_, _, hv) = closure_array_hvp([a, b], d);
        let off = 2.0 * a.cos() * b;
        check_hvp(
            "closure_array",
            hv,
            [[2.0 - a.sin() * b * b, off], [off, 2.0 * a.sin() - b.sin()]],
            d,
        );
        let (_, _, hv) = closure_tuple_hvp([a, b], d);
        let e = a.exp();
        let off = 2.0 * e * e + 2.0 * e * b;
        check_hvp(
            "closure_tuple",
            hv,
            [[4.0 * e * e * b + e * b * b, off], [off, 2.0 * e]],
            d,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Integer methods: constants, computed as written.

/// The AR(1) quadratic form `Σᵢⱼ ρ^|i−j| xᵢ xⱼ`, plus terms in `n.pow(2)` and `usize::pow`.
#[differentiate(reverse, forward, hessian, graph)]
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn ar1_form(rho: f64, x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for (i, xi) in x.iter().enumerate() {
        for (j, xj) in x.iter().enumerate() {
            s += rho.powi(i.abs_diff(j) as i32) * xi * xj;
        }
    }
    s + n.pow(2) as f64 * rho + usize::pow(2, 3) as f64 * rho
}

/// Neighbours on a ring, `rem_euclid` and `checked_sub`, on the indices that are powers of two,
/// plus `n - i` halves of each element by `saturating_sub`.
#[differentiate(reverse, forward)]
#[allow(clippy::needless_range_loop)]
fn ring_terms(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        let next = (i + 1).rem_euclid(n);
        let prev = i.checked_sub(1).unwrap_or(n - 1);
        if i.is_power_of_two() {
            s += x[i] * x[next] - x[prev];
        }
        for _ in 0..n.saturating_sub(i) {
            s += 0.5 * x[i];
        }
    }
    s
}

/// A counter over a literal range that indexes, then calls an integer method: the backward
/// sweep computes `k` again where no indexing tells rustc the counter's type.
#[differentiate(reverse, forward, hessian)]
#[allow(
    clippy::needless_range_loop,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap
)]
fn literal_range(rho: f64, x: &[f64; 3]) -> f64 {
    let mut s = 0.0;
    let mut t = 0.0;
    for i in 0..3 {
        t += x[i] * rho;
        let k = i.abs_diff(1) as i32;
        s += rho.powi(k);
    }
    s * t
}

/// An integer field, bound with its type.
struct Grid {
    n: usize,
}

#[differentiate(reverse, forward)]
fn grid_scale(x: f64, g: &Grid) -> f64 {
    let n: usize = g.n;
    x * x * n.pow(2) as f64
}

#[test]
#[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
fn integer_methods() {
    let points = [[0.5, 1.0, -2.0, 0.5], [-0.3, 0.25, 1.5, -1.0]];
    check(
        "ar1_form",
        &points,
        FD,
        |p| ar1_form(p[0], &p[1..]),
        |p| {
            let (v, dr, dx) = ar1_form_grad(p[0], &p[1..]);
            (v, [dr, dx[0], dx[1], dx[2]])
        },
        |p, d| ar1_form_jvp(p[0], d[0], &p[1..], &d[1..]),
        |p| {
            let (rho, x) = (p[0], &p[1..]);
            let mut g = [9.0 + 8.0, 0.0, 0.0, 0.0];
            for i in 0..3_usize {
                for j in 0..3 {
                    let k = i.abs_diff(j) as i32;
                    if k > 0 {
                        g[0] += f64::from(k) * rho.powi(k - 1) * x[i] * x[j];
                    }
                    g[1 + i] += 2.0 * rho.powi(k) * x[j];
                }
            }
            g
        },
    );
    // The second derivative in ρ along ρ: Σ |i−j| (|i−j| − 1) ρ^(|i−j|−2) xᵢ xⱼ.
    let x = [1.0, -2.0, 0.5];
    let (_, _, _, hv_rho, _) = ar1_form_hvp(0.5, 1.0, &x, &[0.0; 3]);
    let mut expected = 0.0;
    for i in 0..3_usize {
        for j in 0..3 {
            let k = i.abs_diff(j) as i32;
            if k > 1 {
                expected += f64::from(k * (k - 1)) * 0.5_f64.powi(k - 2) * x[i] * x[j];
            }
        }
    }
    assert_close("ar1_form H·v", hv_rho, expected, REL);
    let (_, d_rho, _) = ar1_form_grad(0.5, &x);
    let graph = ar1_form_graph(0.5, &x);
    let rho = graph.node("rho").expect("the parameter's node");
    assert_close("ar1_form graph adjoint", rho.adjoint(), d_rho, REL);

    // s = 1 + 2ρ, t = ρ Σx: f = s t.
    check(
        "literal_range",
        &[[0.5, 1.0, 2.0, 3.0], [-1.5, 0.5, -2.0, 1.0]],
        FD,
        |p| literal_range(p[0], &[p[1], p[2], p[3]]),
        |p| {
            let (v, dr, dx) = literal_range_grad(p[0], &[p[1], p[2], p[3]]);
            (v, [dr, dx[0], dx[1], dx[2]])
        },
        |p, d| literal_range_jvp(p[0], d[0], &[p[1], p[2], p[3]], &[d[1], d[2], d[3]]),
        |[rho, a, b, c]| {
            let (s, sum) = (1.0 + 2.0 * rho, a + b + c);
            let w = s * rho;
            [2.0 * rho * sum + s * sum, w, w, w]
        },
    );

    check(
        "ring_terms",
        &[[1.0, 2.0, 3.0, 4.0], [-0.5, 0.25, 2.0, -3.0]],
        FD,
        |p| ring_terms(&p),
        |p| {
            let (v, d) = ring_terms_grad(&p);
            (v, [d[0], d[1], d[2], d[3]])
        },
        |p, d| ring_terms_jvp(&p, &d),
        // x₁x₂ − x₀ + x₂x₃ − x₁ + ½(4x₀ + 3x₁ + 2x₂ + x₃)
        |[_, x1, x2, x3]| [1.0, x2 + 0.5, x1 + x3 + 1.0, x2 + 0.5],
    );

    let g = Grid { n: 3 };
    check(
        "grid_scale",
        &[[0.5], [-1.25]],
        FD,
        |[x]| grid_scale(x, &g),
        |[x]| {
            let (v, d) = grid_scale_grad(x, &g);
            (v, [d])
        },
        |[x], [d]| grid_scale_jvp(x, d, &g),
        |[x]| [18.0 * x],
    );
}

// ---------------------------------------------------------------------------------------------
// Constant tables, iterated, indexed, bound and zipped; `const` items in the body.

const DK: &[f64] = &[1.0, 2.0, 3.0];
const DKA: [f64; 3] = [1.0, 2.0, 3.0];
/// Three-point Gauss–Legendre weights and nodes on [-1, 1].
const GW: [f64; 3] = [5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0];
const GX: [f64; 3] = [-0.774_596_669_241_483_4, 0.0, 0.774_596_669_241_483_4];

/// `Σ dₖ x = 6x`.
#[differentiate(reverse, forward, hessian, graph)]
fn const_slice_iter(x: f64) -> f64 {
    DK.iter().map(|d| d * x * x).sum()
}

/// `Σ dₖ x = 6x`, over the array constant.
#[differentiate(reverse, forward, hessian)]
fn const_array_iter(x: f64) -> f64 {
    DKA.iter().map(|d| d * x).sum::<f64>() + x
}

#[differentiate(reverse, forward, hessian)]
fn const_for(x: f64) -> f64 {
    let mut s = 0.0;
    for d in DKA {
        s += d * x;
    }
    s
}

/// `Σ dₖ x² = 6x²`, indexed through `len`.
#[allow(clippy::needless_range_loop)]
#[differentiate(reverse, forward, hessian)]
fn const_index(x: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..DK.len() {
        s += DK[i] * x * x;
    }
    s
}

#[differentiate(reverse, forward)]
fn const_bound(x: f64) -> f64 {
    let dk: [f64; 3] = DKA;
    let table = DK;
    dk.iter().map(|d| d * x).sum::<f64>() + table[1] * x - table.iter().sum::<f64>() * x
}

/// Lanczos-like: `d₀ + Σ_{i≥1} dᵢ / (x + i - 1)` = `1 + 2/x + 3/(x+1)`.
#[differentiate(reverse, forward, hessian)]
fn const_in_body(x: f64) -> f64 {
    const DK: [f64; 3] = [1.0, 2.0, 3.0];
    DK.iter()
        .enumerate()
        .skip(1)
        .fold(DK[0], |s, (i, d)| s + d / (x + i as f64 - 1.0))
}

/// Gauss–Legendre of `exp(a t)` on [-1, 1], zipping two constant tables; and a literal array.
#[differentiate(reverse, forward, hessian)]
fn const_zip(a: f64) -> f64 {
    let mut s = 0.0;
    for (w, t) in GW.iter().zip(GX.iter()) {
        s += w * (a * t).exp();
    }
    s + [1.0, 2.0].iter().map(|c| c * a).sum::<f64>()
}

#[test]
fn constant_tables() {
    for x in [0.7, 1.9, 3.2] {
        let d = 0.5;
        let cases: [(&str, f64, f64, f64, f64, f64, f64); 4] = [
            {
                let (v, g) = const_slice_iter_grad(x);
                let (vj, t) = const_slice_iter_jvp(x, d);
                ("const_slice_iter", v, g, vj, t, 6.0 * x * x, 12.0 * x)
            },
            {
                let (v, g) = const_array_iter_grad(x);
                let (vj, t) = const_array_iter_jvp(x, d);
                ("const_array_iter", v, g, vj, t, 7.0 * x, 7.0)
            },
            {
                let (v, g) = const_for_grad(x);
                let (vj, t) = const_for_jvp(x, d);
                ("const_for", v, g, vj, t, 6.0 * x, 6.0)
            },
            {
                let (v, g) = const_index_grad(x);
                let (vj, t) = const_index_jvp(x, d);
                ("const_index", v, g, vj, t, 6.0 * x * x, 12.0 * x)
            },
        ];
        for (name, v, g, vj, t, value, slope) in cases {
            assert_close(&format!("{name} value"), v, value, REL);
            assert_close(&format!("{name} jvp value"), vj, value, REL);
            assert_close(&format!("{name} grad"), g, slope, REL);
            assert_close(&format!("{name} jvp"), t, slope * d, REL);
        }
        let (_, _, hv) = const_slice_iter_hvp(x, d);
        assert_close("const_slice_iter hvp", hv, 12.0 * d, REL);
        let (_, _, hv) = const_index_hvp(x, d);
        assert_close("const_index hvp", hv, 12.0 * d, REL);
        let (_, _, hv) = const_for_hvp(x, d);
        assert_close("const_for hvp", hv, 0.0, REL);
        let graph = const_slice_iter_graph(x);
        let node = graph.node("x").expect("the parameter's node");
        assert_close(
            "const_slice_iter graph adjoint",
            node.adjoint(),
            12.0 * x,
            REL,
        );

        // 6x + 2x - 6x.
        let (v, g) = const_bound_grad(x);
        assert_close("const_bound value", v, 2.0 * x, REL);
        assert_close("const_bound grad", g, 2.0, REL);
        assert_close("const_bound jvp", const_bound_jvp(x, d).1, 2.0 * d, REL);

        let f = |x: f64| 1.0 + 2.0 / x + 3.0 / (x + 1.0);
        let df = |x: f64| -2.0 / (x * x) - 3.0 / ((x + 1.0) * (x + 1.0));
        let d2f = |x: f64| 4.0 / (x * x * x) + 6.0 / ((x + 1.0) * (x + 1.0) * (x + 1.0));
        let (v, g) = const_in_body_grad(x);
        assert_close("const_in_body value", v, f(x), REL);
        assert_close("const_in_body grad", g, df(x), REL);
        assert_close(
            "const_in_body jvp",
            const_in_body_jvp(x, d).1,
            df(x) * d,
            REL,
        );
        let (_, _, hv) = const_in_body_hvp(x, d);
        assert_close("const_in_body hvp", hv, d2f(x) * d, REL);

        // Σ wₖ exp(a tₖ) + 3a, its derivative Σ wₖ tₖ exp(a tₖ) + 3, its second Σ wₖ tₖ² exp(a tₖ).
        let a = x - 1.0;
        let sum = |p: i32| -> f64 {
            (0..3)
                .map(|k| GW[k] * GX[k].powi(p) * (a * GX[k]).exp())
                .sum()
        };
        let (v, g) = const_zip_grad(a);
        assert_close("const_zip value", v, sum(0) + 3.0 * a, REL);
        assert_close("const_zip grad", g, sum(1) + 3.0, REL);
        assert_close(
            "const_zip jvp",
            const_zip_jvp(a, d).1,
            (sum(1) + 3.0) * d,
            REL,
        );
        let (_, _, hv) = const_zip_hvp(a, d);
        assert_close("const_zip hvp", hv, sum(2) * d, REL);
    }
}

// ---------------------------------------------------------------------------------------------
// A part of a several-output call ignored with `_`.

#[differentiate(reverse, forward, hessian)]
fn pair_out(x: f64) -> (f64, f64) {
    (x.sin(), x * x)
}

#[differentiate(reverse, forward, hessian)]
fn cos_sin_out(x: f64) -> [f64; 2] {
    [x.cos(), x.sin()]
}

/// `x³`.
#[differentiate(reverse, forward, hessian)]
fn call_tuple_wild(x: f64) -> f64 {
    let (_, b) = pair_out(x);
    b * x
}

/// `x sin x`.
#[differentiate(reverse, forward, hessian)]
fn call_array_wild(x: f64) -> f64 {
    let [_, b] = cos_sin_out(x);
    b * x
}

#[test]
fn wildcard_in_call_pattern() {
    for x in [0.3, -1.2, 2.5] {
        let d = 0.75;
        let (v, g) = call_tuple_wild_grad(x);
        assert_close("call_tuple_wild value", v, x * x * x, REL);
        assert_close("call_tuple_wild grad", g, 3.0 * x * x, REL);
        assert_close(
            "call_tuple_wild jvp",
            call_tuple_wild_jvp(x, d).1,
            3.0 * x * x * d,
            REL,
        );
        let (_, _, hv) = call_tuple_wild_hvp(x, d);
        assert_close("call_tuple_wild hvp", hv, 6.0 * x * d, REL);

        let (v, g) = call_array_wild_grad(x);
        let slope = x.sin() + x * x.cos();
        assert_close("call_array_wild value", v, x * x.sin(), REL);
        assert_close("call_array_wild grad", g, slope, REL);
        assert_close(
            "call_array_wild jvp",
            call_array_wild_jvp(x, d).1,
            slope * d,
            REL,
        );
        let (_, _, hv) = call_array_wild_hvp(x, d);
        assert_close(
            "call_array_wild hvp",
            hv,
            (2.0 * x.cos() - x * x.sin()) * d,
            REL,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Float predicates and `contains` in conditions.

#[differentiate(reverse, forward, hessian, graph)]
fn in_unit(x: f64) -> f64 {
    if !(0.0..=1.0).contains(&x) {
        return 0.0;
    }
    x * x
}

#[differentiate(reverse, forward, hessian)]
fn half_open(x: f64) -> f64 {
    if (0.0..1.0).contains(&x) {
        x * x
    } else {
        3.0 * x
    }
}

#[differentiate(reverse, forward, hessian)]
fn predicates(x: f64, y: f64) -> f64 {
    let mut s = 0.0;
    if x.is_finite() {
        s += x * y;
    }
    if y.is_infinite() || y.is_nan() {
        s = 0.0;
    }
    if x.is_sign_negative() { s - y } else { s }
}

#[test]
fn float_predicates() {
    for (x, value, slope) in [
        (0.5, 0.25, 1.0),
        (1.0, 1.0, 2.0),
        (1.5, 0.0, 0.0),
        (-0.5, 0.0, 0.0),
    ] {
        let (v, g) = in_unit_grad(x);
        assert_close("in_unit value", v, value, REL);
        assert_close("in_unit grad", g, slope, REL);
        assert_close("in_unit jvp", in_unit_jvp(x, 2.0).1, 2.0 * slope, REL);
        let (_, _, hv) = in_unit_hvp(x, 1.0);
        assert_close("in_unit hvp", hv, if value > 0.0 { 2.0 } else { 0.0 }, REL);
        let graph = in_unit_graph(x);
        assert_close(
            "in_unit graph",
            graph.node("x").expect("x").adjoint(),
            slope,
            REL,
        );
    }
    for (x, slope) in [(0.5, 1.0), (1.0, 3.0), (-0.1, 3.0), (0.0, 0.0)] {
        assert_close("half_open grad", half_open_grad(x).1, slope, REL);
        assert_close("half_open jvp", half_open_jvp(x, 1.0).1, slope, REL);
    }
    check(
        "predicates",
        &[[0.5, 2.0], [-1.5, 0.25]],
        FD,
        |[x, y]| predicates(x, y),
        |[x, y]| {
            let (v, a, b) = predicates_grad(x, y);
            (v, [a, b])
        },
        |[x, y], [a, b]| predicates_jvp(x, a, y, b),
        |[x, y]| [y, if x < 0.0 { x - 1.0 } else { x }],
    );
    let (_, _, _, hx, hy) = predicates_hvp(0.5, 1.0, 2.0, 0.0);
    assert_close("predicates hvp x", hx, 0.0, REL);
    assert_close("predicates hvp y", hy, 1.0, REL);
    assert_eq!(predicates(f64::INFINITY, 1.0), 0.0);
}

// ---------------------------------------------------------------------------------------------
// Closures that change a captured `let mut`, take an array, or read a pair's parts; `fold` with
// a tuple accumulator; `let [a, b] = p.map(..)`.

/// `acc = 1·x + 2·x = 3x`, each call inlined where it is written.
#[differentiate(reverse, forward, hessian, graph)]
fn closure_counter(x: f64) -> f64 {
    let mut acc = 0.0;
    let mut add = |v: f64| {
        acc += v * x;
    };
    add(1.0);
    add(2.0);
    acc
}

/// The unbraced form, called in a loop and beside a read: `s = Σ_{k<3} (x·k + y)·…`:
/// `s₀ = 0, s ← s·y + x` three times: `s = x(1 + y + y²)`.
#[differentiate(reverse, forward, hessian)]
fn closure_in_loop(x: f64, y: f64) -> f64 {
    let mut s = 0.0;
    let mut step = || s = s * y + x;
    for _ in 0..3 {
        step();
    }
    s
}

/// `x₀y + x₂`.
#[differentiate(reverse, forward, hessian, graph)]
fn closure_array_param(x: [f64; 3], y: f64) -> f64 {
    let g = |p: [f64; 2]| p[0] * p[1];
    g([x[0], y]) + x[2]
}

/// `(4p₀ - 2)(4p₁ - 2)`.
#[differentiate(reverse, forward, hessian)]
fn map_destructured(param: &[f64; 2]) -> f64 {
    let [x1, x2] = param.map(|x| 4.0 * x - 2.0);
    x1 * x2
}

/// statrs' form: `1 + 2/x + 3/(x + 1)`, the pair read by `t.0` and `t.1`.
#[differentiate(reverse, forward, hessian)]
fn fold_pair_fields(x: f64) -> f64 {
    let dk = [1.0, 2.0, 3.0];
    dk.iter()
        .enumerate()
        .skip(1)
        .fold(dk[0], |s, t| s + t.1 / (x + t.0 as f64 - 1.0))
}

/// `(Σx)(Πx)`.
#[differentiate(reverse, forward, hessian, graph)]
fn fold_tuple(x: &[f64]) -> f64 {
    let (s, p) = x.iter().fold((0.0, 1.0), |(s, p), &v| (s + v, p * v));
    s * p
}

#[test]
fn closures_changing_captures() {
    for x in [0.4, -1.7] {
        let (v, g) = closure_counter_grad(x);
        assert_close("closure_counter value", v, 3.0 * x, REL);
        assert_close("closure_counter grad", g, 3.0, REL);
        assert_close(
            "closure_counter jvp",
            closure_counter_jvp(x, 0.5).1,
            1.5,
            REL,
        );
        let (_, _, hv) = closure_counter_hvp(x, 0.5);
        assert_close("closure_counter hvp", hv, 0.0, REL);
        let graph = closure_counter_graph(x);
        assert_close(
            "closure_counter graph",
            graph.node("x").expect("x").adjoint(),
            3.0,
            REL,
        );
    }
    check(
        "closure_in_loop",
        &[[0.5, 2.0], [-1.5, 0.25]],
        FD,
        |[x, y]| closure_in_loop(x, y),
        |[x, y]| {
            let (v, a, b) = closure_in_loop_grad(x, y);
            (v, [a, b])
        },
        |[x, y], [a, b]| closure_in_loop_jvp(x, a, y, b),
        |[x, y]| [1.0 + y + y * y, x * (1.0 + 2.0 * y)],
    );
    let (_, _, _, hx, hy) = closure_in_loop_hvp(0.5, 1.0, 2.0, 0.0);
    // H = [[0, 1 + 2y], [1 + 2y, 2x]] at (0.5, 2).
    assert_close("closure_in_loop hvp x", hx, 0.0, REL);
    assert_close("closure_in_loop hvp y", hy, 5.0, REL);
}

#[test]
fn closure_array_parameter() {
    check(
        "closure_array_param",
        &[[0.5, -1.0, 2.0, 3.0], [1.5, 0.25, -0.75, -2.0]],
        FD,
        |[a, b, c, y]| closure_array_param([a, b, c], y),
        |[a, b, c, y]| {
            let (v, dx, dy) = closure_array_param_grad([a, b, c], y);
            (v, [dx[0], dx[1], dx[2], dy])
        },
        |[a, b, c, y], [da, db, dc, dy]| closure_array_param_jvp([a, b, c], [da, db, dc], y, dy),
        |[a, _, _, y]| [y, 0.0, 1.0, a],
    );
    let (_, _, _, hx, hy) = closure_array_param_hvp([0.5, -1.0, 2.0], [1.0, 0.0, 0.0], 3.0, 2.0);
    assert_eq!(hx, [2.0, 0.0, 0.0]);
    assert_close("closure_array_param hvp y", hy, 1.0, REL);
    let graph = closure_array_param_graph([0.5, -1.0, 2.0], 3.0);
    assert_close(
        "closure_array_param graph",
        graph.node("y").expect("y").adjoint(),
        0.5,
        REL,
    );
}

#[test]
fn patterns_over_map_and_pairs() {
    check(
        "map_destructured",
        &[[0.3, 0.9], [-0.5, 1.25]],
        FD,
        |p| map_destructured(&p),
        |p| {
            let (v, d) = map_destructured_grad(&p);
            (v, d)
        },
        |p, d| map_destructured_jvp(&p, &d),
        |[a, b]| [4.0 * (4.0 * b - 2.0), 4.0 * (4.0 * a - 2.0)],
    );
    let (_, _, hv) = map_destructured_hvp(&[0.3, 0.9], &[1.0, 0.5]);
    assert_eq!(hv, [8.0, 16.0]);

    for x in [0.7, 2.3] {
        let df = -2.0 / (x * x) - 3.0 / ((x + 1.0) * (x + 1.0));
        let (v, g) = fold_pair_fields_grad(x);
        assert_close(
            "fold_pair_fields value",
            v,
            1.0 + 2.0 / x + 3.0 / (x + 1.0),
            REL,
        );
        assert_close("fold_pair_fields grad", g, df, REL);
        assert_close(
            "fold_pair_fields jvp",
            fold_pair_fields_jvp(x, 2.0).1,
            2.0 * df,
            REL,
        );
        let d2f = 4.0 / (x * x * x) + 6.0 / ((x + 1.0) * (x + 1.0) * (x + 1.0));
        assert_close(
            "fold_pair_fields hvp",
            fold_pair_fields_hvp(x, 1.0).2,
            d2f,
            REL,
        );
    }

    let x = [0.5, -1.5, 2.0];
    let (sum, prod) = (x.iter().sum::<f64>(), x.iter().product::<f64>());
    let (v, g) = fold_tuple_grad(&x);
    assert_close("fold_tuple value", v, sum * prod, REL);
    for (i, &gi) in g.iter().enumerate() {
        let others: f64 = (0..3).filter(|&j| j != i).map(|j| x[j]).product();
        assert_close("fold_tuple grad", gi, prod + sum * others, REL);
    }
    let e = [0.0, 1.0, 0.0];
    assert_close("fold_tuple jvp", fold_tuple_jvp(&x, &e).1, g[1], REL);
    let (_, _, hv) = fold_tuple_hvp(&x, &e);
    let want = common::hv_by_differences(|p| fold_tuple_grad(p).1, &x, &e);
    common::assert_all_close_to("fold_tuple hvp", &hv, &want, 1e-6);
    let graph = fold_tuple_graph(&x);
    assert!(graph.node("fold_tuple").is_some());
}

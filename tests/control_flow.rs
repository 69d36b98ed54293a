//! Control flow and arrays, checked against independent oracles.
//!
//! Every function below is `#[differentiate(reverse, forward)]`. At each point, [`verify`]
//! holds the generated gradient to four references:
//!
//! - the value returned by `f_grad` (and by `f_jvp`) equals the original function, bit for bit;
//! - every entry equals a gradient derived by hand: a closed form, or, for an iteration whose
//!   derivative has none, the tangent recurrence written out by hand;
//! - fourth-order finite differences of the original function
//!   ([`autodiff::check_gradient_with`]), except at kinks and branch boundaries, where they mix
//!   both sides;
//! - forward mode: `f_jvp` along each unit direction gives the gradient entry, and along a
//!   pseudo-random direction the dot product with the gradient.
//!
//! Functions of several parameters are checked as functions of one flat point: the
//! coordinates of every active parameter, in declaration order.
//!
#![allow(
    // The macro differentiates `for` over integer ranges; iterating a slice directly is not
    // among the constructs it supports, so the loops index.
    clippy::needless_range_loop,
    // Loop indices become `f64` through `as`, the form the macro documents; they are small.
    clippy::cast_precision_loss
)]

use autodiff::{Tolerance, check_gradient_with, differentiate};

// ---------------------------------------------------------------------------------------------
// The checker.

/// How closely a case is checked.
#[derive(Clone, Copy, Debug)]
struct Tol {
    /// Relative tolerance against the hand-derived gradient and between the two modes.
    rel: f64,
    /// Tolerance against finite differences, or `None` where they do not apply (a kink).
    fd: Option<Tolerance>,
}

/// A point where the function is smooth.
const SMOOTH: Tol = Tol {
    rel: 1e-12,
    fd: Some(Tolerance {
        rel: 1e-6,
        abs: 1e-8,
    }),
};

/// A point on or within a finite-difference step of a branch boundary.
const KINK: Tol = Tol {
    rel: 1e-12,
    fd: None,
};

/// An `f32` function, with the hand-derived gradient evaluated in `f64`. Each evaluation is good
/// to about `6e-8` relative, which the stencil's `1.5 / h ≈ 2000` amplifies to about `1.2e-4`.
const F32: Tol = Tol {
    rel: 1e-5,
    fd: Some(Tolerance {
        rel: 1e-3,
        abs: 2e-3,
    }),
};

/// The same `f64`, bit for bit (or both `NaN`).
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// `got` within `rel` of `want`, relative to the larger magnitude; equal values pass.
fn close(got: f64, want: f64, rel: f64) -> bool {
    got == want || (got - want).abs() <= rel * got.abs().max(want.abs())
}

/// `n` deterministic pseudo-random numbers in `[-1, 1)`, none of them zero.
fn pseudo_random(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    (0..n)
        .map(|_| {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let bits = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
            // 53 random bits mapped to [-1, 1); the `| 1` keeps the number away from zero.
            let unit = (bits | 1) as f64 / (1_u64 << 53) as f64;
            2.0 * unit - 1.0
        })
        .collect()
}

/// Checks the gradient of `f` at `p`: `grad` returns the value and the gradient, `jvp(p, d)`
/// the value and the derivative along `d`, and `closed` is the gradient derived by hand.
fn verify(
    name: &str,
    p: &[f64],
    tol: Tol,
    f: impl Fn(&[f64]) -> f64,
    grad: impl Fn(&[f64]) -> (f64, Vec<f64>),
    jvp: impl Fn(&[f64], &[f64]) -> (f64, f64),
    closed: &[f64],
) {
    let value = f(p);
    let (v, g) = grad(p);
    assert!(
        same(v, value),
        "{name} at {p:?}: f_grad value {v:e} != f {value:e}"
    );
    assert_eq!(
        g.len(),
        p.len(),
        "{name}: one gradient entry per coordinate"
    );
    assert_eq!(
        closed.len(),
        p.len(),
        "{name}: one closed-form entry per coordinate"
    );
    for i in 0..p.len() {
        assert!(
            close(g[i], closed[i], tol.rel),
            "{name} at {p:?}: ∂/∂p{i} is {:e}, derived by hand {:e}",
            g[i],
            closed[i],
        );
    }
    if let Some(fd) = tol.fd {
        check_gradient_with(&f, p, &g, fd)
            .unwrap_or_else(|e| panic!("{name} at {p:?} against finite differences: {e}"));
    }
    for i in 0..p.len() {
        let mut e = vec![0.0; p.len()];
        e[i] = 1.0;
        let (vj, t) = jvp(p, &e);
        assert!(
            same(vj, value),
            "{name} at {p:?}: f_jvp value {vj:e} != f {value:e}"
        );
        assert!(
            close(t, g[i], tol.rel),
            "{name} at {p:?}: f_jvp along e{i} is {t:e}, ∂/∂p{i} is {:e}",
            g[i],
        );
    }
    let r = pseudo_random(p.len() as u64 + 1, p.len());
    let (vj, t) = jvp(p, &r);
    assert!(
        same(vj, value),
        "{name} at {p:?}: f_jvp value {vj:e} != f {value:e}"
    );
    let dot: f64 = r.iter().zip(&g).map(|(r, g)| r * g).sum();
    let scale: f64 = r.iter().zip(&g).map(|(r, g)| (r * g).abs()).sum();
    assert!(
        (t - dot).abs() <= tol.rel * scale,
        "{name} at {p:?}: f_jvp along {r:?} is {t:e}, gradient · direction is {dot:e}"
    );
}

/// `f32` coordinates of a point whose coordinates are `f32` values.
#[allow(clippy::cast_possible_truncation)]
fn narrow(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// `f64` coordinates of `f32` values.
fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().copied().map(f64::from).collect()
}

/// Product of `x` without its entry `skip`, by direct multiplication.
fn product_except(x: &[f64], skip: usize) -> f64 {
    x.iter()
        .enumerate()
        .filter(|&(j, _)| j != skip)
        .map(|(_, &v)| v)
        .product()
}

// ---------------------------------------------------------------------------------------------
// Branches.

/// Two pieces whose derivatives at 0 differ: `2` on the right, `-2` on the left.
#[differentiate(reverse, forward)]
fn kink(x: f64) -> f64 {
    if x > 0.0 {
        2.0 * x + x * x
    } else {
        x.exp() - 1.0 - 3.0 * x
    }
}

/// `if` as a statement, with `>=`: `4 x` from 0 upwards, `x² - x / 2` below. (Written as
/// `y * (y - 0.5)`: see `reassignment_reading_the_old_value_twice_in_a_branch`.)
#[differentiate(reverse, forward)]
fn kink_stmt(x: f64) -> f64 {
    let mut y = x;
    if x >= 0.0 {
        y *= 4.0;
    } else {
        y = y * (y - 0.5);
    }
    y
}

/// `if` without `else`: `x²` below 0, `3 x` from 0 upwards.
#[differentiate(reverse, forward)]
fn kink_no_else(x: f64) -> f64 {
    let mut y = 3.0 * x;
    if x < 0.0 {
        y = x * x;
    }
    y
}

#[test]
fn kink_from_both_sides_and_at_zero() {
    let tiny = 1e-300;
    let cases: [(f64, Tol, [f64; 3]); 7] = [
        // (x, tolerance, [kink', kink_stmt', kink_no_else'])
        (tiny, KINK, [2.0, 4.0, 3.0]),
        (-tiny, KINK, [-2.0, -0.5, -2.0 * tiny]),
        (0.0, KINK, [-2.0, 4.0, 3.0]),
        (-0.0, KINK, [-2.0, 4.0, 3.0]),
        (1.5, SMOOTH, [5.0, 4.0, 3.0]),
        (-2.0, SMOOTH, [(-2.0_f64).exp() - 3.0, -4.5, -4.0]),
        (-0.25, SMOOTH, [(-0.25_f64).exp() - 3.0, -1.0, -0.5]),
    ];
    for (x, tol, [d_kink, d_stmt, d_no_else]) in cases {
        verify(
            "kink",
            &[x],
            tol,
            |p| kink(p[0]),
            |p| {
                let (v, d) = kink_grad(p[0]);
                (v, vec![d])
            },
            |p, d| kink_jvp(p[0], d[0]),
            &[d_kink],
        );
        verify(
            "kink_stmt",
            &[x],
            tol,
            |p| kink_stmt(p[0]),
            |p| {
                let (v, d) = kink_stmt_grad(p[0]);
                (v, vec![d])
            },
            |p, d| kink_stmt_jvp(p[0], d[0]),
            &[d_stmt],
        );
        verify(
            "kink_no_else",
            &[x],
            tol,
            |p| kink_no_else(p[0]),
            |p| {
                let (v, d) = kink_no_else_grad(p[0]);
                (v, vec![d])
            },
            |p, d| kink_no_else_jvp(p[0], d[0]),
            &[d_no_else],
        );
    }
    // The values on either side, exactly.
    assert_eq!(kink_grad(tiny), (2.0 * tiny, 2.0));
    assert_eq!(kink_grad(-tiny), (3.0 * tiny, -2.0));
    assert_eq!(kink_grad(0.0), (0.0, -2.0));
}

/// A comparison of two active values: `x y` when `x > y`, else `y - 2 x`.
#[differentiate(reverse, forward)]
fn pick(x: f64, y: f64) -> f64 {
    if x > y { x * y } else { y - 2.0 * x }
}

#[test]
fn comparison_of_active_values() {
    let a = 1.5;
    let (up, down) = (f64::next_up(a), f64::next_down(a));
    let cases = [
        ([a, a], KINK),
        ([up, a], KINK),
        ([a, up], KINK),
        ([down, a], KINK),
        ([-0.0, 0.0], KINK),
        ([2.0, -3.0], SMOOTH),
        ([-2.0, 3.0], SMOOTH),
    ];
    for (p, tol) in cases {
        let [x, y] = p;
        let closed = if x > y { [y, x] } else { [-2.0, 1.0] };
        verify(
            "pick",
            &p,
            tol,
            |p| pick(p[0], p[1]),
            |p| {
                let (v, dx, dy) = pick_grad(p[0], p[1]);
                (v, vec![dx, dy])
            },
            |p, d| pick_jvp(p[0], d[0], p[1], d[1]),
            &closed,
        );
    }
}

/// An `else if` chain whose pieces have different slopes at both boundaries.
#[differentiate(reverse, forward)]
fn three_way(x: f64) -> f64 {
    if x < -1.0 {
        -2.0 * x
    } else if x < 1.0 {
        x * x * x
    } else {
        5.0 * x
    }
}

#[test]
fn else_if_chain_at_and_around_its_boundaries() {
    let closed = |x: f64| {
        if x < -1.0 {
            -2.0
        } else if x < 1.0 {
            3.0 * x * x
        } else {
            5.0
        }
    };
    let kinks = [
        -1.0,
        f64::next_down(-1.0),
        f64::next_up(-1.0),
        1.0,
        f64::next_down(1.0),
        f64::next_up(1.0),
    ];
    let smooth = [-3.0, -0.5, 0.0, 0.75, 2.0];
    let points = kinks
        .iter()
        .map(|&x| (x, KINK))
        .chain(smooth.iter().map(|&x| (x, SMOOTH)));
    for (x, tol) in points {
        verify(
            "three_way",
            &[x],
            tol,
            |p| three_way(p[0]),
            |p| {
                let (v, d) = three_way_grad(p[0]);
                (v, vec![d])
            },
            |p, d| three_way_jvp(p[0], d[0]),
            &[closed(x)],
        );
    }
    assert_eq!(three_way_grad(-1.0), (-1.0, 3.0));
    assert_eq!(three_way_grad(1.0), (5.0, 5.0));
}

/// An `if` expression bound by `let`, on a condition over a computed value.
#[differentiate(reverse, forward)]
fn region(x: f64, y: f64) -> f64 {
    let r = x * x + y * y;
    let s = if r < 1.0 { r * x } else { y / r };
    s + x
}

#[test]
fn if_expression_on_a_computed_condition() {
    let closed = |x: f64, y: f64| {
        let r = x * x + y * y;
        if r < 1.0 {
            [2.0 * x * x + r + 1.0, 2.0 * x * y]
        } else {
            [1.0 - 2.0 * x * y / (r * r), 1.0 / r - 2.0 * y * y / (r * r)]
        }
    };
    let cases = [
        ([0.3, 0.4], SMOOTH),
        ([1.2, -0.5], SMOOTH),
        ([-0.1, 2.0], SMOOTH),
        // r = 1 exactly: the `else` branch.
        ([1.0, 0.0], KINK),
        ([0.0, -1.0], KINK),
        ([f64::next_down(1.0), 0.0], KINK),
    ];
    for (p, tol) in cases {
        verify(
            "region",
            &p,
            tol,
            |p| region(p[0], p[1]),
            |p| {
                let (v, dx, dy) = region_grad(p[0], p[1]);
                (v, vec![dx, dy])
            },
            |p, d| region_jvp(p[0], d[0], p[1], d[1]),
            &closed(p[0], p[1]),
        );
    }
    assert_eq!(region_grad(1.0, 0.0), (1.0, 1.0, 1.0));
}

/// An early `return` from a branch.
#[differentiate(reverse, forward)]
fn early(x: f64, y: f64) -> f64 {
    if x < y {
        return x * y;
    }
    let z = x - y;
    z * z + 2.0 * x
}

#[test]
fn early_return_from_a_branch() {
    let closed = |x: f64, y: f64| {
        if x < y {
            [y, x]
        } else {
            [2.0 * (x - y) + 2.0, -2.0 * (x - y)]
        }
    };
    let cases = [
        ([0.5, 2.0], SMOOTH),
        ([3.0, -1.0], SMOOTH),
        ([-1.5, -1.25], SMOOTH),
        ([1.0, 1.0], KINK),
        ([f64::next_down(1.0), 1.0], KINK),
    ];
    for (p, tol) in cases {
        verify(
            "early",
            &p,
            tol,
            |p| early(p[0], p[1]),
            |p| {
                let (v, dx, dy) = early_grad(p[0], p[1]);
                (v, vec![dx, dy])
            },
            |p, d| early_jvp(p[0], d[0], p[1], d[1]),
            &closed(p[0], p[1]),
        );
    }
    assert_eq!(early_grad(1.0, 1.0), (2.0, 2.0, 0.0));
}

// ---------------------------------------------------------------------------------------------
// Trip counts: none, one, many.

/// `xⁿ` by repeated multiplication; no trip for `n = 0`.
#[differentiate(reverse, forward)]
fn power(x: f64, n: usize) -> f64 {
    let mut p = 1.0;
    for _ in 0..n {
        p *= x;
    }
    p
}

#[test]
fn loop_of_zero_one_and_many_trips() {
    for n in [0_usize, 1, 2, 7, 20] {
        for x in [1.3_f64, -0.8, 0.0, 2.5] {
            let closed = if n == 0 {
                0.0
            } else {
                n as f64 * x.powi(i32::try_from(n).unwrap() - 1)
            };
            verify(
                &format!("power n={n}"),
                &[x],
                SMOOTH,
                |p| power(p[0], n),
                |p| {
                    let (v, d) = power_grad(p[0], n);
                    (v, vec![d])
                },
                |p, d| power_jvp(p[0], d[0], n),
                &[closed],
            );
        }
    }
    assert_eq!(power_grad(3.0, 0), (1.0, 0.0));
    assert_eq!(power_grad(3.0, 1), (3.0, 1.0));
}

/// A range with both bounds from parameters.
#[differentiate(reverse, forward)]
fn window(x: &[f64], lo: usize, hi: usize) -> f64 {
    let mut s = 0.0;
    for i in lo..hi {
        s += x[i] * x[i] * (i as f64 + 1.0);
    }
    s
}

#[test]
fn range_bounds_from_parameters() {
    let x = [0.5, -1.25, 2.0, 0.75, -3.0];
    // (lo, hi): empty, empty and reversed, one trip, many, all.
    for (lo, hi) in [(0, 0), (3, 3), (4, 2), (2, 3), (1, 4), (0, 5)] {
        let closed: Vec<f64> = (0..x.len())
            .map(|i| {
                if (lo..hi).contains(&i) {
                    2.0 * x[i] * (i as f64 + 1.0)
                } else {
                    0.0
                }
            })
            .collect();
        verify(
            &format!("window {lo}..{hi}"),
            &x,
            SMOOTH,
            |p| window(p, lo, hi),
            |p| window_grad(p, lo, hi),
            |p, d| window_jvp(p, d, lo, hi),
            &closed,
        );
    }
}

/// Bounds from `x.len()` and arithmetic on it: neighbours over `1..n`, and each entry of the
/// first half against its mirror image over `0..n / 2`.
#[differentiate(reverse, forward)]
fn spread(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 1..n {
        let d = x[i] - x[i - 1];
        s += d * d;
    }
    for i in 0..n / 2 {
        s += x[i] * x[n - 1 - i];
    }
    s
}

fn spread_closed(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut g = vec![0.0; n];
    for k in 0..n {
        if k >= 1 {
            g[k] += 2.0 * (x[k] - x[k - 1]);
        }
        if k + 1 < n {
            g[k] -= 2.0 * (x[k + 1] - x[k]);
        }
        // The pair (k, n - 1 - k), unless k is the middle of an odd length.
        if 2 * k + 1 != n {
            g[k] += x[n - 1 - k];
        }
    }
    g
}

#[test]
fn bounds_from_len_and_arithmetic_on_slices_of_every_length() {
    for n in [0, 1, 2, 3, 5, 8] {
        let x: Vec<f64> = pseudo_random(10 + n as u64, n)
            .iter()
            .map(|v| 2.0 * v)
            .collect();
        verify(
            &format!("spread n={n}"),
            &x,
            SMOOTH,
            spread,
            spread_grad,
            spread_jvp,
            &spread_closed(&x),
        );
    }
    assert_eq!(spread_grad(&[]), (0.0, vec![]));
    assert_eq!(spread_grad(&[4.0]), (0.0, vec![0.0]));
}

// ---------------------------------------------------------------------------------------------
// `while`, `loop`, `break`, `continue`, `return` in loops.

/// Newton's iteration for `√a`, from `a`, until the step is below `1e-10` of the iterate: the
/// trip count depends on `a`.
#[differentiate(reverse, forward)]
fn newton_sqrt(a: f64) -> f64 {
    let mut y = a;
    let mut step = a;
    while step.abs() > 1e-10 * y {
        let next = 0.5 * (y + a / y);
        step = next - y;
        y = next;
    }
    y
}

/// The same iteration carrying the tangent `dy = ∂y/∂a` by hand:
/// `∂(a / y) = 1 / y - a dy / y²`. Returns the iterate, its tangent and the trip count.
fn newton_sqrt_tangent(a: f64) -> (f64, f64, usize) {
    let (mut y, mut dy) = (a, 1.0);
    let mut step = a;
    let mut trips = 0;
    while step.abs() > 1e-10 * y {
        let next = 0.5 * (y + a / y);
        let d_next = 0.5 * (dy + 1.0 / y - a * dy / (y * y));
        step = next - y;
        y = next;
        dy = d_next;
        trips += 1;
    }
    (y, dy, trips)
}

#[test]
fn while_with_a_data_dependent_trip_count_newton() {
    let mut trips_seen = Vec::new();
    // Below about 0.04 the finite-difference step (7.4e-4) no longer resolves √a to 1e-6.
    for a in [0.04, 0.5, 1.0, 2.0, 10.0, 1e6] {
        let (y, dy, trips) = newton_sqrt_tangent(a);
        trips_seen.push(trips);
        assert!(close(y, a.sqrt(), 1e-15), "newton_sqrt({a}) = {y}");
        verify(
            &format!("newton_sqrt a={a}"),
            &[a],
            Tol {
                rel: 1e-11,
                ..SMOOTH
            },
            |p| newton_sqrt(p[0]),
            |p| {
                let (v, d) = newton_sqrt_grad(p[0]);
                (v, vec![d])
            },
            |p, d| newton_sqrt_jvp(p[0], d[0]),
            &[dy],
        );
        // The iteration stops once the previous iterate is within about 1e-10, so the derivative
        // of the last one is within about that of the derivative of √a.
        let (_, d) = newton_sqrt_grad(a);
        let want = 0.5 / a.sqrt();
        assert!(
            close(d, want, 1e-8),
            "∂newton_sqrt({a}) = {d:e}, 1/(2√a) = {want:e}"
        );
    }
    assert_eq!(trips_seen[2], 1, "a = 1 converges in one step");
    assert!(
        trips_seen[5] > 10,
        "a = 1e6 takes many steps: {trips_seen:?}"
    );
}

/// The do-while of Rust, `while { body; condition } {}`: a Babylonian square root whose steps
/// are all in the condition.
#[differentiate(reverse, forward, hessian)]
fn babylonian(a: f64) -> f64 {
    let mut y = a;
    let mut steps = 0;
    while {
        let prev = y;
        y = 0.5 * (y + a / y);
        steps += 1;
        (y - prev).abs() > 1e-12 * y && steps < 60
    } {}
    y
}

/// A condition that assigns the value the function returns, and a body that overwrites it
/// (Clad's `Loops.C`, `fn28`): the last run of the condition decides it.
#[differentiate(reverse, forward)]
#[allow(unused_assignments)] // As Clad's test writes it: the body's value is overwritten.
fn condition_assigns(i: f64, j: f64) -> f64 {
    let mut res = 0.0;
    let mut c = 0;
    while {
        res = i * j;
        c < 2
    } {
        res = 3.0 * i * j;
        c += 1;
    }
    res
}

/// A condition that accumulates, then a `break`: the condition runs once, not again after the
/// `break` (Clad's `Loops.C`, `fn26`).
#[differentiate(reverse, forward)]
fn condition_then_break(x: f64) -> f64 {
    let mut r = 0.0;
    let mut k = 0;
    while {
        r += x * x;
        k += 1;
        k < 5
    } {
        if r > 3.0 {
            break;
        }
        r += x;
    }
    r
}

#[test]
fn do_while_the_condition_holds_the_body() {
    for a in [0.25, 2.0, 10.0] {
        let (v, d) = babylonian_grad(a);
        assert_eq!(v, babylonian(a));
        assert!(close(v, a.sqrt(), 1e-12));
        assert!(close(d, 0.5 / a.sqrt(), 1e-8), "∂babylonian({a}) = {d:e}");
        let (_, t) = babylonian_jvp(a, 1.0);
        assert!(close(t, d, 1e-12));
        let (_, _, hv) = babylonian_hvp(a, 1.0);
        assert!(
            close(hv, -0.25 / (a * a.sqrt()), 1e-6),
            "∂²babylonian({a}) = {hv:e}"
        );
    }
    // res = i j after the third run of the condition: (j, i).
    let (i, j) = (3.0, 5.0);
    verify(
        "condition_assigns",
        &[i, j],
        SMOOTH,
        |p| condition_assigns(p[0], p[1]),
        |p| {
            let (v, di, dj) = condition_assigns_grad(p[0], p[1]);
            (v, vec![di, dj])
        },
        |p, d| condition_assigns_jvp(p[0], d[0], p[1], d[1]),
        &[j, i],
    );
    // At x = 1.5: r = x² = 2.25 ≤ 3, r += x, then r += x² = 6 > 3 and the loop breaks: r = 2x² +
    // x, r' = 4x + 1. At x = 0.5: four runs of the body, r = 5x² + 4x, r' = 10x + 4.
    for (x, closed) in [(1.5, 4.0 * 1.5 + 1.0), (0.5, 10.0 * 0.5 + 4.0)] {
        verify(
            &format!("condition_then_break x={x}"),
            &[x],
            SMOOTH,
            |p| condition_then_break(p[0]),
            |p| {
                let (v, d) = condition_then_break_grad(p[0]);
                (v, vec![d])
            },
            |p, d| condition_then_break_jvp(p[0], d[0]),
            &[closed],
        );
    }
}

/// An operation chosen by an enum that derives no `PartialEq` (Clad's `Switch.C`, `fn24`):
/// `match` arms on its unit variants, an or-pattern among them, and a `const` pattern.
#[derive(Clone, Copy)]
enum Combine {
    Add,
    Mul,
    Div,
    Hypot,
}

const TWICE: i32 = 2;

#[differentiate(reverse, forward, hessian)]
fn combine(x: f64, y: f64, op: Combine, k: i32) -> f64 {
    let v = match op {
        Combine::Add => x + y,
        Combine::Mul | Combine::Div if k > 0 => x * y,
        Combine::Div => x / y,
        Combine::Hypot => x.hypot(y),
        Combine::Mul => -x * y,
    };
    match k {
        TWICE => 2.0 * v,
        _ => v,
    }
}

#[test]
fn match_on_the_unit_variants_of_an_enum_without_partial_eq() {
    let (x, y): (f64, f64) = (1.5, -0.75);
    let h = x.hypot(y);
    for (op, k, closed) in [
        (Combine::Add, 0, [1.0, 1.0]),
        (Combine::Mul, 1, [y, x]),
        (Combine::Mul, 0, [-y, -x]),
        (Combine::Div, 2, [2.0 * y, 2.0 * x]),
        (Combine::Div, 0, [1.0 / y, -x / (y * y)]),
        (Combine::Hypot, 2, [2.0 * x / h, 2.0 * y / h]),
    ] {
        verify(
            "combine",
            &[x, y],
            SMOOTH,
            |p| combine(p[0], p[1], op, k),
            |p| {
                let (v, dx, dy) = combine_grad(p[0], p[1], op, k);
                (v, vec![dx, dy])
            },
            |p, d| combine_jvp(p[0], d[0], p[1], d[1], op, k),
            &closed,
        );
    }
    // ∂²(x / y)/∂y² = 2x / y³, along (0, 1).
    let (_, _, _, hx, hy) = combine_hvp(x, 0.0, y, 1.0, Combine::Div, 0);
    assert!(close(hx, -1.0 / (y * y), 1e-12) && close(hy, 2.0 * x / (y * y * y), 1e-12));
}

/// A block whose last expression is an `if` assigning a `let mut` of the block: the `let` is a
/// variable the branch assigns (lowering failed with an internal error).
#[differentiate(reverse, forward)]
fn inner_tail_if(x: f64, c: bool) -> f64 {
    let y = {
        let mut a = x;
        if c {
            a = 2.0 * a * x;
            a
        } else {
            a
        }
    };
    y + x
}

/// The same with a `match`, inside a `let`'s block.
#[differentiate(reverse, forward)]
fn inner_tail_match(x: f64, k: i32) -> f64 {
    let y = {
        let mut a = x * x;
        match k {
            0 => {
                a = a.sin();
                a * x
            }
            _ => a,
        }
    };
    y - x
}

#[test]
fn a_block_whose_last_branch_assigns_its_own_let_mut() {
    let x: f64 = 0.7;
    for (c, closed) in [(true, 4.0 * x + 1.0), (false, 2.0)] {
        verify(
            &format!("inner_tail_if c={c}"),
            &[x],
            SMOOTH,
            |p| inner_tail_if(p[0], c),
            |p| {
                let (v, d) = inner_tail_if_grad(p[0], c);
                (v, vec![d])
            },
            |p, d| inner_tail_if_jvp(p[0], d[0], c),
            &[closed],
        );
    }
    let s = x * x;
    for (k, closed) in [(0, 2.0 * s * s.cos() + s.sin() - 1.0), (1, 2.0 * x - 1.0)] {
        verify(
            &format!("inner_tail_match k={k}"),
            &[x],
            SMOOTH,
            |p| inner_tail_match(p[0], k),
            |p| {
                let (v, d) = inner_tail_match_grad(p[0], k);
                (v, vec![d])
            },
            |p, d| inner_tail_match_jvp(p[0], d[0], k),
            &[closed],
        );
    }
}

/// Halves until at most one: `⌈log₂ x⌉` trips for `x > 1`, none otherwise.
#[differentiate(reverse, forward)]
fn halve(x: f64) -> f64 {
    let mut y = x;
    while y > 1.0 {
        y /= 2.0;
    }
    y * y + x
}

#[test]
fn while_halving_until_below_a_threshold() {
    let closed = |x: f64| {
        #[allow(clippy::cast_possible_truncation)]
        let k = if x > 1.0 { x.log2().ceil() as i32 } else { 0 };
        // 2⁻ᵏ, exact.
        let scale = 0.5_f64.powi(k);
        let y = x * scale;
        (2.0 * y * scale + 1.0, k)
    };
    // (x, trips, tolerance): 1 and 8 are where the trip count changes.
    let cases = [
        (0.5, 0, SMOOTH),
        (-4.0, 0, SMOOTH),
        (1.0, 0, KINK),
        (1.5, 1, SMOOTH),
        (8.0, 3, KINK),
        (9.0, 4, SMOOTH),
        (1000.0, 10, SMOOTH),
        (1e300, 997, SMOOTH),
    ];
    for (x, trips, tol) in cases {
        let (d, k) = closed(x);
        assert_eq!(k, trips, "trip count for {x}");
        verify(
            &format!("halve x={x}"),
            &[x],
            tol,
            |p| halve(p[0]),
            |p| {
                let (v, d) = halve_grad(p[0]);
                (v, vec![d])
            },
            |p, d| halve_jvp(p[0], d[0]),
            &[d],
        );
    }
    assert_eq!(halve_grad(1.0), (2.0, 3.0));
    assert_eq!(halve_grad(8.0), (9.0, 1.25));
}

/// `loop` with `break`: applies `y ↦ 1.5 y + 0.25` until `y > limit`, at least once.
#[differentiate(reverse, forward)]
fn grow(x: f64, limit: f64) -> f64 {
    let mut y = x;
    loop {
        y = 1.5 * y + 0.25;
        if y > limit {
            break;
        }
    }
    y
}

#[test]
fn loop_with_break() {
    // After k steps y = 1.5ᵏ (x + 0.5) - 0.5; ∂y/∂x = 1.5ᵏ, and `limit` only decides k.
    let closed = |x: f64, limit: f64| {
        let k = (1..=60)
            .find(|&k| 1.5_f64.powi(k) * (x + 0.5) - 0.5 > limit)
            .unwrap();
        (k, [1.5_f64.powi(k), 0.0])
    };
    for (p, trips) in [
        ([1.0, 0.0], 1),
        ([1.0, 100.0], 11),
        ([-0.3, 50.0], 14),
        ([0.2, 3.0], 4),
    ] {
        let (k, g) = closed(p[0], p[1]);
        assert_eq!(k, trips, "trips at {p:?}");
        verify(
            "grow",
            &p,
            SMOOTH,
            |p| grow(p[0], p[1]),
            |p| {
                let (v, dx, dl) = grow_grad(p[0], p[1]);
                (v, vec![dx, dl])
            },
            |p, d| grow_jvp(p[0], d[0], p[1], d[1]),
            &g,
        );
    }
    // Exactly at the limit the loop goes on.
    assert_eq!(grow_grad(1.0, 1.75), (2.875, 2.25, 0.0));
}

/// `continue` in a `for` loop: negative entries are skipped.
#[differentiate(reverse, forward)]
fn skip_negatives(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if x[i] < 0.0 {
            continue;
        }
        s += x[i] * x[i];
    }
    s
}

#[test]
fn continue_in_a_for_loop() {
    let closed = |x: &[f64]| -> Vec<f64> {
        x.iter()
            .map(|&v| if v < 0.0 { 0.0 } else { 2.0 * v })
            .collect()
    };
    let cases: [(&[f64], Tol); 6] = [
        (&[], SMOOTH),
        (&[1.5], SMOOTH),
        (&[-1.5], SMOOTH),
        (&[0.5, -2.0, 3.0, -0.25, 1.0], SMOOTH),
        (&[-1.0, -2.0, -3.0], SMOOTH),
        (&[0.0, -0.0, 1e-300, -1e-300], KINK),
    ];
    for (x, tol) in cases {
        verify(
            "skip_negatives",
            x,
            tol,
            skip_negatives,
            skip_negatives_grad,
            skip_negatives_jvp,
            &closed(x),
        );
    }
}

/// `continue` in a `while` loop with an integer counter: `Σ xⁱ / i` over the odd `i ≤ n`.
#[differentiate(reverse, forward)]
fn odd_terms(x: f64, n: usize) -> f64 {
    let mut i = 0;
    let mut p = 1.0;
    let mut s = 0.0;
    while i < n {
        i += 1;
        p *= x;
        if i % 2 == 0 {
            continue;
        }
        s += p / i as f64;
    }
    s
}

#[test]
fn continue_in_a_while_loop() {
    for n in [0_usize, 1, 2, 3, 9] {
        for x in [0.5_f64, -0.7, 1.25] {
            // ∂/∂x Σ xⁱ / i = Σ xⁱ⁻¹ over the odd i ≤ n.
            let closed: f64 = (1..=n)
                .filter(|i| i % 2 == 1)
                .map(|i| x.powi(i32::try_from(i).unwrap() - 1))
                .sum();
            verify(
                &format!("odd_terms n={n}"),
                &[x],
                SMOOTH,
                |p| odd_terms(p[0], n),
                |p| {
                    let (v, d) = odd_terms_grad(p[0], n);
                    (v, vec![d])
                },
                |p, d| odd_terms_jvp(p[0], d[0], n),
                &[closed],
            );
        }
    }
}

/// An early `return` from inside a loop: the first `xᵢ` with `xᵢ t > 1` gives `xᵢ² t`;
/// without one, `t²`.
#[differentiate(reverse, forward)]
fn first_big(x: &[f64], t: f64) -> f64 {
    for i in 0..x.len() {
        if x[i] * t > 1.0 {
            return x[i] * x[i] * t;
        }
    }
    t * t
}

#[test]
fn early_return_inside_a_loop() {
    let x = [0.1, 0.5, 2.0, 3.0];
    // (t, index returned from)
    for (t, hit) in [(1.0, Some(2)), (0.4, Some(3)), (0.2, None), (-1.0, None)] {
        let mut closed = vec![0.0; 5];
        match hit {
            Some(i) => {
                closed[i] = 2.0 * x[i] * t;
                closed[4] = x[i] * x[i];
            }
            None => closed[4] = 2.0 * t,
        }
        let p = [&x[..], &[t]].concat();
        verify(
            &format!("first_big t={t}"),
            &p,
            SMOOTH,
            |p| first_big(&p[..4], p[4]),
            |p| {
                let (v, dx, dt) = first_big_grad(&p[..4], p[4]);
                (v, [dx, vec![dt]].concat())
            },
            |p, d| first_big_jvp(&p[..4], &d[..4], p[4], d[4]),
            &closed,
        );
    }
    assert_eq!(first_big_grad(&[], 3.0), (9.0, vec![], 6.0));
    // Exactly at the threshold the loop goes on; the entry after it returns.
    assert_eq!(first_big_grad(&[1.0, 2.0], 1.0), (4.0, vec![0.0, 4.0], 4.0));
}

/// An early `return` from two loops deep: the first pair `i < j` with `(xᵢ - xⱼ)² < tol`
/// gives `xᵢ xⱼ`; without one, `tol²`.
#[differentiate(reverse, forward)]
fn first_close_pair(x: &[f64], tol: f64) -> f64 {
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let d = x[i] - x[j];
            if d * d < tol {
                return x[i] * x[j];
            }
        }
    }
    tol * tol
}

#[test]
fn early_return_from_nested_loops() {
    let x = [0.0, 1.0, 0.5, 1.2];
    // tol = 0.3: (0, 2) is the first pair closer than √0.3; 0.1: (1, 3); 0.01: none.
    for (tol, hit) in [(0.3, Some((0, 2))), (0.1, Some((1, 3))), (0.01, None)] {
        let mut closed = vec![0.0; 5];
        match hit {
            Some((i, j)) => {
                closed[i] = x[j];
                closed[j] = x[i];
            }
            None => closed[4] = 2.0 * tol,
        }
        let p = [&x[..], &[tol]].concat();
        verify(
            &format!("first_close_pair tol={tol}"),
            &p,
            SMOOTH,
            |p| first_close_pair(&p[..4], p[4]),
            |p| {
                let (v, dx, dt) = first_close_pair_grad(&p[..4], p[4]);
                (v, [dx, vec![dt]].concat())
            },
            |p, d| first_close_pair_jvp(&p[..4], &d[..4], p[4], d[4]),
            &closed,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Nested loops.

/// `‖A x‖²` for the `rows × x.len()` matrix `a`, stored row by row.
#[differentiate(reverse, forward)]
fn matvec_norm(a: &[f64], x: &[f64], rows: usize) -> f64 {
    let cols = x.len();
    let mut s = 0.0;
    for r in 0..rows {
        let mut y = 0.0;
        for c in 0..cols {
            y += a[r * cols + c] * x[c];
        }
        s += y * y;
    }
    s
}

#[test]
fn nested_loops_matrix_vector_product() {
    for (rows, cols) in [(3, 2), (2, 4), (1, 1), (0, 3), (2, 0)] {
        let a: Vec<f64> = pseudo_random(rows as u64 * 7 + cols as u64, rows * cols);
        let x: Vec<f64> = pseudo_random(99 + cols as u64, cols)
            .iter()
            .map(|v| 3.0 * v)
            .collect();
        // y = A x; ∂/∂A_rc = 2 y_r x_c, ∂/∂x_c = 2 Σ_r y_r A_rc.
        let y: Vec<f64> = (0..rows)
            .map(|r| (0..cols).map(|c| a[r * cols + c] * x[c]).sum())
            .collect();
        let mut closed = vec![0.0; rows * cols + cols];
        for r in 0..rows {
            for c in 0..cols {
                closed[r * cols + c] = 2.0 * y[r] * x[c];
                closed[rows * cols + c] += 2.0 * y[r] * a[r * cols + c];
            }
        }
        let m = rows * cols;
        let p = [&a[..], &x[..]].concat();
        verify(
            &format!("matvec_norm {rows}x{cols}"),
            &p,
            SMOOTH,
            |p| matvec_norm(&p[..m], &p[m..], rows),
            |p| {
                let (v, da, dx) = matvec_norm_grad(&p[..m], &p[m..], rows);
                (v, [da, dx].concat())
            },
            |p, d| matvec_norm_jvp(&p[..m], &d[..m], &p[m..], &d[m..], rows),
            &closed,
        );
    }
}

/// `Σ_{i ≤ j} xᵢ xⱼ / (1 + i + j)`: the inner range starts at the outer index.
#[differentiate(reverse, forward)]
fn triangle(x: &[f64]) -> f64 {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in i..n {
            s += x[i] * x[j] / (1.0 + i as f64 + j as f64);
        }
    }
    s
}

#[test]
fn nested_loops_double_sum() {
    // With c_ij = 1 / (1 + i + j) symmetric, ∂/∂x_k = Σ_j c_kj x_j + c_kk x_k (the diagonal
    // term x_k² is counted once in the sum and contributes 2 c_kk x_k).
    let c = |i: usize, j: usize| 1.0 / (1.0 + i as f64 + j as f64);
    for n in [0, 1, 2, 6] {
        let x: Vec<f64> = pseudo_random(40 + n as u64, n);
        let closed: Vec<f64> = (0..n)
            .map(|k| (0..n).map(|j| c(k, j) * x[j]).sum::<f64>() + c(k, k) * x[k])
            .collect();
        verify(
            &format!("triangle n={n}"),
            &x,
            SMOOTH,
            triangle,
            triangle_grad,
            triangle_jvp,
            &closed,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Reversed and inclusive ranges.

/// A polynomial by Horner's rule, from the highest coefficient: `Σ cᵢ xⁱ`.
#[differentiate(reverse, forward)]
fn horner(c: &[f64], x: f64) -> f64 {
    let mut p = 0.0;
    for i in (0..c.len()).rev() {
        p = p * x + c[i];
    }
    p
}

/// Horner's rule over an inclusive reversed range and a reference to an array.
#[differentiate(reverse, forward)]
fn horner3(c: &[f64; 4], x: f64) -> f64 {
    let mut p = 0.0;
    for i in (0..=3).rev() {
        p = p * x + c[i];
    }
    p
}

/// `∂/∂cᵢ = xⁱ`, `∂/∂x = Σ i cᵢ xⁱ⁻¹`, as one flat vector.
fn polynomial_closed(c: &[f64], x: f64) -> Vec<f64> {
    let pow = |i: usize| x.powi(i32::try_from(i).unwrap());
    let dx: f64 = (1..c.len()).map(|i| i as f64 * c[i] * pow(i - 1)).sum();
    (0..c.len()).map(pow).chain([dx]).collect()
}

#[test]
fn horner_with_a_reversed_range() {
    let cases: [(&[f64], f64); 6] = [
        (&[], 0.7),
        (&[2.5], 0.7),
        (&[2.5, -1.0], -1.3),
        (&[1.0, -2.0, 0.5, 3.0], 0.7),
        (&[1.0, -2.0, 0.5, 3.0], -1.3),
        (&[0.3, 0.0, -1.0, 0.25, 2.0, -0.5, 1.0], 1.1),
    ];
    for (c, x) in cases {
        let n = c.len();
        let p = [c, &[x]].concat();
        verify(
            &format!("horner degree {}", n.saturating_sub(1)),
            &p,
            SMOOTH,
            |p| horner(&p[..n], p[n]),
            |p| {
                let (v, dc, dx) = horner_grad(&p[..n], p[n]);
                (v, [dc, vec![dx]].concat())
            },
            |p, d| horner_jvp(&p[..n], &d[..n], p[n], d[n]),
            &polynomial_closed(c, x),
        );
    }
    assert_eq!(horner_grad(&[], 2.0), (0.0, vec![], 0.0));
    assert_eq!(horner_grad(&[2.5], 2.0), (2.5, vec![1.0], 0.0));
}

#[test]
fn horner_with_an_inclusive_reversed_range() {
    for (c, x) in [
        ([1.0, -2.0, 0.5, 3.0], 0.7),
        ([0.0, 1.5, -0.25, 0.125], -2.0),
    ] {
        let p = [&c[..], &[x]].concat();
        verify(
            "horner3",
            &p,
            SMOOTH,
            |p| horner3(&p[..4].try_into().unwrap(), p[4]),
            |p| {
                let (v, dc, dx) = horner3_grad(&p[..4].try_into().unwrap(), p[4]);
                (v, [&dc[..], &[dx]].concat())
            },
            |p, d| {
                horner3_jvp(
                    &p[..4].try_into().unwrap(),
                    &d[..4].try_into().unwrap(),
                    p[4],
                    d[4],
                )
            },
            &polynomial_closed(&c, x),
        );
        // Both orders of the same polynomial agree.
        assert_eq!(horner3_grad(&c, x).0, horner(&c, x));
    }
}

/// The rising factorial `(x + 1)(x + 2)…(x + n)` over an inclusive range.
#[differentiate(reverse, forward)]
fn rising(x: f64, n: usize) -> f64 {
    let mut p = 1.0;
    for k in 1..=n {
        p *= x + k as f64;
    }
    p
}

#[test]
fn inclusive_range() {
    for n in [0_usize, 1, 2, 5] {
        for x in [0.5, -2.5, 3.0] {
            let factors: Vec<f64> = (1..=n).map(|k| x + k as f64).collect();
            let closed: f64 = (0..n).map(|k| product_except(&factors, k)).sum();
            verify(
                &format!("rising n={n}"),
                &[x],
                SMOOTH,
                |p| rising(p[0], n),
                |p| {
                    let (v, d) = rising_grad(p[0], n);
                    (v, vec![d])
                },
                |p, d| rising_jvp(p[0], d[0], n),
                &[closed],
            );
        }
    }
    assert_eq!(rising_grad(0.5, 0), (1.0, 0.0));
}

// ---------------------------------------------------------------------------------------------
// Loops over arrays and slices.

/// `Π xᵢ`, one factor per trip.
#[differentiate(reverse, forward)]
// Written out as `p = p * x[i]` on purpose: plain reassignment, not `*=`.
#[allow(clippy::assign_op_pattern)]
fn product(x: &[f64]) -> f64 {
    let mut p = 1.0;
    for i in 0..x.len() {
        p = p * x[i];
    }
    p
}

#[test]
fn product_loop_with_zeros() {
    let cases: [&[f64]; 7] = [
        &[],
        &[2.5],
        &[0.0],
        &[1.5, -2.0, 0.5, 3.0],
        &[1.5, 0.0, -2.0, 4.0],
        &[0.0, 1.5, 0.0, 4.0],
        &[1.1, -0.9, 1.3, 0.7, -1.2, 0.8, 1.05, -1.15],
    ];
    for x in cases {
        // ∂/∂xᵢ is the product of the others, computed without dividing by xᵢ.
        let closed: Vec<f64> = (0..x.len()).map(|i| product_except(x, i)).collect();
        verify(
            &format!("product {x:?}"),
            x,
            SMOOTH,
            product,
            product_grad,
            product_jvp,
            &closed,
        );
    }
    assert_eq!(product_grad(&[]), (1.0, vec![]));
    assert_eq!(product_grad(&[0.0]), (0.0, vec![1.0]));
    assert_eq!(
        product_grad(&[1.5, 0.0, -2.0, 4.0]),
        (-0.0, vec![0.0, -12.0, 0.0, 0.0])
    );
    let (_, g) = product_grad(&[0.0, 1.5, 0.0, 4.0]);
    assert!(g.iter().all(|&d| d == 0.0), "two zeros: {g:?}");
}

/// `b + Σ wᵢ xᵢ`, accumulated with `+=`.
#[differentiate(reverse, forward)]
fn dot(w: &[f64], x: &[f64], b: f64) -> f64 {
    let mut s = b;
    for i in 0..x.len() {
        s += w[i] * x[i];
    }
    s
}

#[test]
fn accumulation_loop() {
    for n in [0, 1, 2, 9] {
        let w = pseudo_random(3 + n as u64, n);
        let x = pseudo_random(300 + n as u64, n);
        let b = 0.375;
        let p = [&w[..], &x[..], &[b]].concat();
        let closed = [&x[..], &w[..], &[1.0]].concat();
        verify(
            &format!("dot n={n}"),
            &p,
            SMOOTH,
            |p| dot(&p[..n], &p[n..2 * n], p[2 * n]),
            |p| {
                let (v, dw, dx, db) = dot_grad(&p[..n], &p[n..2 * n], p[2 * n]);
                (v, [dw, dx, vec![db]].concat())
            },
            |p, d| {
                dot_jvp(
                    &p[..n],
                    &d[..n],
                    &p[n..2 * n],
                    &d[n..2 * n],
                    p[2 * n],
                    d[2 * n],
                )
            },
            &closed,
        );
    }
}

#[test]
fn grad_into_adds_into_its_buffers() {
    let w = [0.5, -1.5, 2.0];
    let x = [3.0, 0.25, -1.0];
    let b = -0.5;
    let (value, gw, gx, gb) = dot_grad(&w, &x, b);
    assert_eq!(value, dot(&w, &x, b));
    let mut dw = [0.0; 3];
    let mut dx = [0.0; 3];
    assert_eq!(dot_grad_into(&w, &mut dw, &x, &mut dx, b), (value, gb));
    assert_eq!(dw.to_vec(), gw);
    assert_eq!(dx.to_vec(), gx);
    assert_eq!(dot_grad_into(&w, &mut dw, &x, &mut dx, b), (value, gb));
    let twice = |g: &[f64]| g.iter().map(|v| 2.0 * v).collect::<Vec<_>>();
    assert_eq!(dw.to_vec(), twice(&gw));
    assert_eq!(dx.to_vec(), twice(&gx));
    // Into buffers that already hold something: each entry has a single contribution here, so
    // the sums are exact.
    let mut dw = [1.0, 2.0, 3.0];
    let mut dx = [-1.0, 0.0, 10.0];
    dot_grad_into(&w, &mut dw, &x, &mut dx, b);
    assert_eq!(dw, [1.0 + x[0], 2.0 + x[1], 3.0 + x[2]]);
    assert_eq!(dx, [-1.0 + w[0], w[1], 10.0 + w[2]]);
    // Empty slices.
    assert_eq!(dot_grad_into(&[], &mut [], &[], &mut [], b), (b, 1.0));
}

/// Prefix sums in a local array whose entries are read back in the next trip, then a
/// weighted energy of them.
#[differentiate(reverse, forward)]
fn prefix_energy(x: &[f64]) -> f64 {
    let mut h = [0.0; 8];
    for i in 0..x.len() {
        h[i] = x[i];
        if i > 0 {
            h[i] += h[i - 1];
        }
    }
    let mut s = 0.0;
    for i in 0..x.len() {
        s += h[i] * h[i] * (i as f64 + 1.0);
    }
    s
}

#[test]
fn prefix_sum_in_a_local_array() {
    for n in [0, 1, 2, 5, 8] {
        let x = pseudo_random(70 + n as u64, n);
        // hᵢ = Σ_{k ≤ i} x_k; ∂/∂x_k = Σ_{i ≥ k} 2 (i + 1) hᵢ.
        let h: Vec<f64> = (0..n).map(|i| x[..=i].iter().sum()).collect();
        let closed: Vec<f64> = (0..n)
            .map(|k| (k..n).map(|i| 2.0 * (i as f64 + 1.0) * h[i]).sum())
            .collect();
        verify(
            &format!("prefix_energy n={n}"),
            &x,
            SMOOTH,
            prefix_energy,
            prefix_energy_grad,
            prefix_energy_jvp,
            &closed,
        );
    }
}

/// Prefix sums forwards and discounted suffix sums backwards, in two local arrays, over a
/// reference to an array.
#[differentiate(reverse, forward)]
fn prefix_suffix(x: &[f64; 4]) -> f64 {
    let mut pre = [0.0; 4];
    let mut suf = [0.0; 4];
    pre[0] = x[0];
    for i in 1..4 {
        pre[i] = pre[i - 1] + x[i];
    }
    suf[3] = x[3];
    for i in (0..3).rev() {
        suf[i] = 0.5 * suf[i + 1] + x[i];
    }
    let mut s = 0.0;
    for i in 0..4 {
        s += pre[i] * suf[i];
    }
    s
}

#[test]
fn local_arrays_forwards_and_backwards() {
    for seed in [1, 2, 3] {
        let x: [f64; 4] = pseudo_random(seed, 4).try_into().unwrap();
        // preᵢ = Σ_{k ≤ i} x_k, sufᵢ = Σ_{k ≥ i} 2^(i-k) x_k; s = Σ preᵢ sufᵢ.
        let pre = |i: usize| x[..=i].iter().sum::<f64>();
        let weight = |i: usize, k: usize| 0.5_f64.powi(i32::try_from(k - i).unwrap());
        let suf = |i: usize| (i..4).map(|k| weight(i, k) * x[k]).sum::<f64>();
        let closed: Vec<f64> = (0..4)
            .map(|k| {
                (k..4).map(suf).sum::<f64>() + (0..=k).map(|i| pre(i) * weight(i, k)).sum::<f64>()
            })
            .collect();
        verify(
            "prefix_suffix",
            &x,
            SMOOTH,
            |p| prefix_suffix(&p.try_into().unwrap()),
            |p| {
                let (v, d) = prefix_suffix_grad(&p.try_into().unwrap());
                (v, d.to_vec())
            },
            |p, d| prefix_suffix_jvp(&p.try_into().unwrap(), &d.try_into().unwrap()),
            &closed,
        );
    }
}

/// Log-sum-exp of an array passed by value, shifted by a running maximum found with
/// comparisons of active values.
#[differentiate(reverse, forward)]
fn log_sum_exp(x: [f64; 4]) -> f64 {
    let mut m = x[0];
    for i in 1..4 {
        if x[i] > m {
            m = x[i];
        }
    }
    let mut s = 0.0;
    for i in 0..4 {
        s += (x[i] - m).exp();
    }
    m + s.ln()
}

#[test]
fn array_by_value_with_a_running_maximum() {
    // The gradient is the softmax, whichever entry is the maximum (ties included): the
    // function is smooth, the maximum only shifts the exponents.
    for x in [
        [0.5_f64, -1.0, 2.0, 0.25],
        [3.0, 1.0, 3.0, 0.0],
        [1.0, 1.0, 1.0, 1.0],
        [-20.0, 5.0, 4.5, 0.0],
    ] {
        let total: f64 = x.iter().map(|v| v.exp()).sum();
        let closed: Vec<f64> = x.iter().map(|v| v.exp() / total).collect();
        verify(
            "log_sum_exp",
            &x,
            SMOOTH,
            |p| log_sum_exp(p.try_into().unwrap()),
            |p| {
                let (v, d) = log_sum_exp_grad(p.try_into().unwrap());
                (v, d.to_vec())
            },
            |p, d| log_sum_exp_jvp(p.try_into().unwrap(), d.try_into().unwrap()),
            &closed,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// f32 slices and `wrt`.

/// `s √(1 + Σ xᵢ²)` over an `f32` slice.
#[differentiate(reverse, forward)]
fn norm32(x: &[f32], s: f32) -> f32 {
    let mut t = 0.0;
    for i in 0..x.len() {
        t += x[i] * x[i];
    }
    s * (1.0 + t).sqrt()
}

#[test]
fn f32_slices() {
    let cases: [(&[f32], f32); 4] = [
        (&[], 1.5),
        (&[0.75], -2.0),
        (&[0.5, -1.25, 2.0], 0.5),
        (&[1.0, 2.0, -0.5, 0.25, 3.0], -1.25),
    ];
    for (x, s) in cases {
        let n = x.len();
        let p = [widen(x), vec![f64::from(s)]].concat();
        let r = (1.0 + widen(x).iter().map(|v| v * v).sum::<f64>()).sqrt();
        let closed: Vec<f64> = widen(x)
            .iter()
            .map(|v| f64::from(s) * v / r)
            .chain([r])
            .collect();
        verify(
            &format!("norm32 n={n}"),
            &p,
            F32,
            |p| {
                let p = narrow(p);
                f64::from(norm32(&p[..n], p[n]))
            },
            |p| {
                let p = narrow(p);
                let (v, dx, ds) = norm32_grad(&p[..n], p[n]);
                (f64::from(v), [widen(&dx), vec![f64::from(ds)]].concat())
            },
            |p, d| {
                let (p, d) = (narrow(p), narrow(d));
                let (v, t) = norm32_jvp(&p[..n], &d[..n], p[n], d[n]);
                (f64::from(v), f64::from(t))
            },
            &closed,
        );
        // Into an f32 buffer, twice.
        let (value, dx, ds) = norm32_grad(x, s);
        let mut buffer = vec![0.0_f32; n];
        assert_eq!(norm32_grad_into(x, &mut buffer, s), (value, ds));
        assert_eq!(norm32_grad_into(x, &mut buffer, s), (value, ds));
        let twice: Vec<f32> = dx.iter().map(|v| 2.0 * v).collect();
        assert_eq!(buffer, twice);
    }
}

/// `(b + Σ wᵢ xᵢ - 1)²`, differentiated with respect to `w` only.
#[differentiate(reverse, forward, wrt(w))]
fn fit_w(w: &[f64], x: &[f64], b: f64) -> f64 {
    let mut s = b;
    for i in 0..x.len() {
        s += w[i] * x[i];
    }
    (s - 1.0) * (s - 1.0)
}

/// The same, differentiated with respect to `b` only.
#[differentiate(reverse, forward, wrt(b))]
fn fit_b(w: &[f64], x: &[f64], b: f64) -> f64 {
    let mut s = b;
    for i in 0..x.len() {
        s += w[i] * x[i];
    }
    (s - 1.0) * (s - 1.0)
}

#[test]
fn wrt_restricts_to_a_slice_or_to_a_scalar() {
    let x = [0.5, -2.0, 1.5];
    let w = [1.25, 0.75, -0.5];
    let b = 0.125;
    let s = b + w.iter().zip(&x).map(|(w, x)| w * x).sum::<f64>();
    let dw: Vec<f64> = x.iter().map(|x| 2.0 * (s - 1.0) * x).collect();
    verify(
        "fit_w",
        &w,
        SMOOTH,
        |p| fit_w(p, &x, b),
        |p| fit_w_grad(p, &x, b),
        |p, d| fit_w_jvp(p, d, &x, b),
        &dw,
    );
    verify(
        "fit_b",
        &[b],
        SMOOTH,
        |p| fit_b(&w, &x, p[0]),
        |p| {
            let (v, d) = fit_b_grad(&w, &x, p[0]);
            (v, vec![d])
        },
        |p, d| fit_b_jvp(&w, &x, p[0], d[0]),
        &[2.0 * (s - 1.0)],
    );
    // The slice-only gradient into a buffer: the value alone comes back.
    let mut buffer = [0.0; 3];
    let (value,) = fit_w_grad_into(&w, &mut buffer, &x, b);
    assert_eq!(value, fit_w(&w, &x, b));
    assert_eq!(buffer.to_vec(), fit_w_grad(&w, &x, b).1);
}

// ---------------------------------------------------------------------------------------------
// Larger functions.

/// The n-dimensional Rosenbrock function `Σ 100 (xᵢ - xᵢ₋₁²)² + (1 - xᵢ₋₁)²`.
#[differentiate(reverse, forward)]
fn rosenbrock(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 1..x.len() {
        let a = x[i] - x[i - 1] * x[i - 1];
        let b = 1.0 - x[i - 1];
        s += 100.0 * a * a + b * b;
    }
    s
}

/// `∂/∂x_k = -400 x_k (x_{k+1} - x_k²) - 2 (1 - x_k)` (if `k + 1 < n`)
/// `+ 200 (x_k - x_{k-1}²)` (if `k > 0`).
fn rosenbrock_closed(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    (0..n)
        .map(|k| {
            let mut g = 0.0;
            if k + 1 < n {
                g += -400.0 * x[k] * (x[k + 1] - x[k] * x[k]) - 2.0 * (1.0 - x[k]);
            }
            if k > 0 {
                g += 200.0 * (x[k] - x[k - 1] * x[k - 1]);
            }
            g
        })
        .collect()
}

#[test]
fn rosenbrock_in_2_3_10_and_100_dimensions() {
    for n in [2, 3, 10, 100] {
        let mut points = vec![vec![1.0; n], vec![-1.2; n]];
        points.extend((0..3).map(|k| {
            pseudo_random(1000 * n as u64 + k, n)
                .iter()
                .map(|v| 1.5 * v)
                .collect()
        }));
        for x in points {
            // Each gradient entry sums up to three terms of opposite signs; their cancellation
            // can lose a few digits relative to the result.
            let closed = rosenbrock_closed(&x);
            verify(
                &format!("rosenbrock n={n}"),
                &x,
                Tol {
                    rel: 1e-10,
                    ..SMOOTH
                },
                rosenbrock,
                rosenbrock_grad,
                rosenbrock_jvp,
                &closed,
            );
            // Into a buffer that already holds the gradient: twice the gradient.
            let (value, g) = rosenbrock_grad(&x);
            let mut buffer = g.clone();
            assert_eq!(rosenbrock_grad_into(&x, &mut buffer), (value,));
            // An entry gets up to two contributions, added one by one: rounding at the scale
            // of the largest entry.
            let largest = g.iter().fold(0.0, |m: f64, v| m.max(v.abs()));
            for (b, g) in buffer.iter().zip(&g) {
                assert!(
                    (b - 2.0 * g).abs() <= 1e-13 * largest,
                    "rosenbrock_grad_into: {b:e} vs 2 × {g:e}"
                );
            }
        }
    }
    let (value, g) = rosenbrock_grad(&[1.0; 10]);
    assert_eq!(value, 0.0);
    assert!(g.iter().all(|&d| d == 0.0), "{g:?}");
}

/// Four `tanh` units on the inputs `x`, a linear output, squared error against `target`.
/// For `n = x.len()`, `w` holds the first layer row by row (`4 n`), its biases (4), the output
/// weights (4) and the output bias (1). The hidden activations live in a local array.
#[differentiate(reverse, forward)]
fn mlp_loss(w: &[f64], x: &[f64], target: f64) -> f64 {
    let n = x.len();
    let mut h = [0.0; 4];
    for j in 0..4 {
        let mut z = w[4 * n + j];
        for i in 0..n {
            z += w[j * n + i] * x[i];
        }
        h[j] = z.tanh();
    }
    let mut out = w[4 * n + 8];
    for j in 0..4 {
        out += w[4 * n + 4 + j] * h[j];
    }
    let e = out - target;
    e * e
}

/// Backpropagation by hand; the gradient with respect to `w`, `x` and `target`, flat.
fn mlp_closed(w: &[f64], x: &[f64], target: f64) -> Vec<f64> {
    let n = x.len();
    let h: Vec<f64> = (0..4)
        .map(|j| {
            let z = w[4 * n + j] + (0..n).map(|i| w[j * n + i] * x[i]).sum::<f64>();
            z.tanh()
        })
        .collect();
    let out = w[4 * n + 8] + (0..4).map(|j| w[4 * n + 4 + j] * h[j]).sum::<f64>();
    let d_out = 2.0 * (out - target);
    let d_z: Vec<f64> = (0..4)
        .map(|j| d_out * w[4 * n + 4 + j] * (1.0 - h[j] * h[j]))
        .collect();
    let mut dw = vec![0.0; 4 * n + 9];
    let mut dx = vec![0.0; n];
    for j in 0..4 {
        for i in 0..n {
            dw[j * n + i] = d_z[j] * x[i];
            dx[i] += d_z[j] * w[j * n + i];
        }
        dw[4 * n + j] = d_z[j];
        dw[4 * n + 4 + j] = d_out * h[j];
    }
    dw[4 * n + 8] = d_out;
    [dw, dx, vec![-d_out]].concat()
}

#[test]
fn mlp_loss_with_a_hidden_tanh_layer() {
    for (n, seed) in [(3, 1), (3, 2), (5, 3), (1, 4), (0, 5)] {
        let m = 4 * n + 9;
        let w = pseudo_random(500 + seed, m);
        let x: Vec<f64> = pseudo_random(600 + seed, n)
            .iter()
            .map(|v| 2.0 * v)
            .collect();
        let target = 0.3;
        let p = [&w[..], &x[..], &[target]].concat();
        verify(
            &format!("mlp_loss n={n}"),
            &p,
            SMOOTH,
            |p| mlp_loss(&p[..m], &p[m..m + n], p[m + n]),
            |p| {
                let (v, dw, dx, dt) = mlp_loss_grad(&p[..m], &p[m..m + n], p[m + n]);
                (v, [dw, dx, vec![dt]].concat())
            },
            |p, d| {
                mlp_loss_jvp(
                    &p[..m],
                    &d[..m],
                    &p[m..m + n],
                    &d[m..m + n],
                    p[m + n],
                    d[m + n],
                )
            },
            &mlp_closed(&w, &x, target),
        );
        // A batch of two examples accumulated into one buffer.
        let (_, g, _, _) = mlp_loss_grad(&w, &x, target);
        let (_, g2, _, _) = mlp_loss_grad(&w, &x, -target);
        let mut dw = vec![0.0; m];
        let mut dx = vec![0.0; n];
        mlp_loss_grad_into(&w, &mut dw, &x, &mut dx, target);
        mlp_loss_grad_into(&w, &mut dw, &x, &mut dx, -target);
        for i in 0..m {
            assert!(close(dw[i], g[i] + g2[i], 1e-15), "batch dw[{i}]");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reassignment that reads the old value twice.

/// `y = y * y + 2.0 * y` in a branch: the old value `y` is read by a product with itself and by
/// a product with a constant, so the backward sweep needs it from the branch's tape.
#[differentiate]
fn reassign_in_branch(x: f64) -> f64 {
    let mut y = x;
    if x > 0.0 {
        y = y * y + 2.0 * y;
    }
    y
}

/// The same reassignment in a loop body.
#[differentiate]
fn reassign_in_loop(x: f64, n: usize) -> f64 {
    let mut y = x;
    for _ in 0..n {
        y = y * y + 2.0 * y;
    }
    y
}

#[test]
fn reassignment_reading_the_old_value_twice() {
    // x² + 2x for x > 0, x otherwise.
    assert_eq!(reassign_in_branch_grad(1.0), (3.0, 4.0));
    assert_eq!(reassign_in_branch_grad(-1.0), (-1.0, 1.0));
    // y₁ = 3, y₂ = 15 from x = 1; y' is multiplied by 2 y + 2 per trip: 4, then 8 · 4.
    assert_eq!(reassign_in_loop_grad(1.0, 0), (1.0, 1.0));
    assert_eq!(reassign_in_loop_grad(1.0, 1), (3.0, 4.0));
    assert_eq!(reassign_in_loop_grad(1.0, 2), (15.0, 32.0));
}

// ---------------------------------------------------------------------------------------------
// Loops that only accumulate: their backward code runs inside them, each iteration's right after
// its own forward code (ARCHITECTURE.md, "Fused loops"). The results must not depend on that.

/// A sum scaled by a parameter after the loop: the adjoint the loop reads, `c`, is known before
/// it runs, while `∂/∂c = s + 2c` needs the sum and is computed after it.
#[differentiate(reverse, forward)]
fn scaled_sum(x: &[f64], c: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    s * c + c * c
}

#[test]
fn loop_sum_scaled_after_the_loop() {
    for n in [0, 1, 2, 7] {
        let p = pseudo_random(40 + n as u64, n + 1);
        let c = p[n];
        let x = p[..n].to_vec();
        let s: f64 = x.iter().map(|v| v * v).sum();
        let mut closed: Vec<f64> = x.iter().map(|v| 2.0 * c * v).collect();
        closed.push(s + 2.0 * c);
        verify(
            &format!("scaled_sum n={n}"),
            &p,
            SMOOTH,
            |p| scaled_sum(&p[..n], p[n]),
            |p| {
                let (v, mut g, gc) = scaled_sum_grad(&p[..n], p[n]);
                g.push(gc);
                (v, g)
            },
            |p, d| scaled_sum_jvp(&p[..n], &d[..n], p[n], d[n]),
            &closed,
        );
    }
}

/// Several accumulations per iteration: `+=` and `-=` chained in one block, one in a branch and
/// one in a nested loop, over values a branch and the inner loop keep on a tape.
#[differentiate(reverse, forward)]
fn many_accumulations(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i];
        s -= 0.5 * x[i] * x[i];
        if x[i] > 0.0 {
            s += x[i].exp();
        }
        for j in 0..i {
            s += x[i] * x[j].sin();
        }
    }
    2.0 * s
}

/// `∂/∂x_k = 2 (1 − x_k + [x_k > 0] e^{x_k} + Σ_{j<k} sin x_j + cos x_k Σ_{i>k} x_i)`.
fn many_accumulations_closed(x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|k| {
            let positive = if x[k] > 0.0 { x[k].exp() } else { 0.0 };
            let before: f64 = x[..k].iter().map(|v| v.sin()).sum();
            let after: f64 = x[k + 1..].iter().sum();
            2.0 * (1.0 - x[k] + positive + before + x[k].cos() * after)
        })
        .collect()
}

#[test]
fn loop_with_chained_branched_and_nested_accumulations() {
    for n in [0, 1, 3, 8] {
        let x: Vec<f64> = pseudo_random(60 + n as u64, n)
            .iter()
            .map(|v| 1.5 * v)
            .collect();
        // Finite differences straddle the branch only within a step of zero.
        let tol = if x.iter().any(|v| v.abs() < 1e-3) {
            KINK
        } else {
            SMOOTH
        };
        verify(
            &format!("many_accumulations n={n}"),
            &x,
            Tol { rel: 1e-11, ..tol },
            many_accumulations,
            many_accumulations_grad,
            many_accumulations_jvp,
            &many_accumulations_closed(&x),
        );
    }
}

/// A sum that stops at the first negative entry (`break` becomes a flag the loop carries),
/// then a mean over the whole length.
#[differentiate(reverse, forward)]
fn sum_until_negative(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        if x[i] < 0.0 {
            break;
        }
        s += x[i].sin();
    }
    s / x.len() as f64
}

#[test]
fn loop_with_break_then_a_mean() {
    let x: [f64; 6] = [0.5, 1.25, 0.75, -0.5, 2.0, 0.25];
    for n in 1..=x.len() {
        let x = &x[..n];
        let stop = x.iter().position(|&v| v < 0.0).unwrap_or(n);
        let closed: Vec<f64> = (0..n)
            .map(|k| if k < stop { x[k].cos() / n as f64 } else { 0.0 })
            .collect();
        verify(
            &format!("sum_until_negative n={n}"),
            x,
            SMOOTH,
            sum_until_negative,
            sum_until_negative_grad,
            sum_until_negative_jvp,
            &closed,
        );
    }
}

/// Two loops: the second reads the first's result, so its backward code adds into that
/// result's adjoint, which the first loop's backward code then reads.
#[differentiate(reverse, forward)]
fn sum_times_sines(x: &[f64]) -> f64 {
    let mut a = 0.0;
    for i in 0..x.len() {
        a += x[i] * x[i];
    }
    let mut s = 0.0;
    for i in 0..x.len() {
        s += a * x[i].sin();
    }
    s
}

#[test]
fn two_loops_one_feeding_the_other() {
    for n in [1, 2, 5] {
        let x = pseudo_random(80 + n as u64, n);
        let a: f64 = x.iter().map(|v| v * v).sum();
        let sines: f64 = x.iter().map(|v| v.sin()).sum();
        let closed: Vec<f64> = x.iter().map(|v| 2.0 * v * sines + a * v.cos()).collect();
        verify(
            &format!("sum_times_sines n={n}"),
            &x,
            SMOOTH,
            sum_times_sines,
            sum_times_sines_grad,
            sum_times_sines_jvp,
            &closed,
        );
    }
}

/// A variable the loop reads is assigned again, in a branch, after the loop: the backward code
/// of that assignment reads and clears its adjoint, so it must run before the loop's backward
/// code adds to it. With `s + 2a` it can (the adjoint of `a` is 2 before the loop runs); with
/// `s + a²` it cannot (that needs `a` after the branch), and the loop is reversed on its own.
#[differentiate(reverse, forward)]
fn reassigned_after_linear(x: &[f64]) -> f64 {
    let mut a = x[0];
    let mut s = 0.0;
    for i in 0..x.len() {
        s += a * x[i];
    }
    if x[1] > 0.0 {
        a = 3.0 * x[1];
    }
    s + 2.0 * a
}

#[differentiate(reverse, forward)]
fn reassigned_after_squared(x: &[f64]) -> f64 {
    let mut a = x[0];
    let mut s = 0.0;
    for i in 0..x.len() {
        s += a * x[i];
    }
    if x[1] > 0.0 {
        a = 3.0 * x[1];
    }
    s + a * a
}

#[test]
fn variable_read_in_the_loop_reassigned_after_it() {
    for n in [2, 3, 6] {
        for sign in [1.0, -1.0] {
            let mut x = pseudo_random(90 + n as u64, n);
            x[1] = sign * x[1].abs();
            let total: f64 = x.iter().sum();
            let taken = x[1] > 0.0;
            // s = x₀ Σ xᵢ, and a = 3 x₁ if x₁ > 0, else x₀.
            let closed = |outer: fn(f64) -> f64| -> Vec<f64> {
                let a = if taken { 3.0 * x[1] } else { x[0] };
                let da = outer(a);
                (0..n)
                    .map(|k| {
                        let from_s = if k == 0 { total + x[0] } else { x[0] };
                        let from_a = match (k, taken) {
                            (0, false) => da,
                            (1, true) => 3.0 * da,
                            _ => 0.0,
                        };
                        from_s + from_a
                    })
                    .collect()
            };
            verify(
                &format!("reassigned_after_linear n={n} x1={}", x[1]),
                &x,
                SMOOTH,
                reassigned_after_linear,
                reassigned_after_linear_grad,
                reassigned_after_linear_jvp,
                &closed(|_| 2.0),
            );
            verify(
                &format!("reassigned_after_squared n={n} x1={}", x[1]),
                &x,
                SMOOTH,
                reassigned_after_squared,
                reassigned_after_squared_grad,
                reassigned_after_squared_jvp,
                &closed(|a| 2.0 * a),
            );
        }
    }
}

/// A loop whose result goes through a non-linear function: its adjoint is only known after
/// the loop, so the backward code is a second loop; the gradient is the same either way.
#[differentiate(reverse, forward)]
fn norm(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    s.sqrt()
}

#[test]
fn loop_result_through_a_square_root() {
    for n in [1, 2, 9] {
        let x = pseudo_random(100 + n as u64, n);
        let r = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let closed: Vec<f64> = x.iter().map(|v| v / r).collect();
        verify(
            &format!("norm n={n}"),
            &x,
            SMOOTH,
            norm,
            norm_grad,
            norm_jvp,
            &closed,
        );
    }
}

/// Each iteration adds to `d_x[i]` and `d_x[i + 1]`; the second addition is carried to the next
/// iteration, and the last one's is added after the loop, if the loop ran. Inclusive and
/// exclusive ranges, empty ones, and ranges that start after zero.
#[differentiate(reverse, forward)]
fn squared_steps(x: &[f64], lo: usize, hi: usize, inclusive: bool) -> f64 {
    let mut s = 0.0;
    if inclusive {
        for i in lo..=hi {
            s += (x[i + 1] - x[i]) * (x[i + 1] - x[i]) + x[i].cos();
        }
    } else {
        for i in lo..hi {
            s += (x[i + 1] - x[i]) * (x[i + 1] - x[i]) + x[i].cos();
        }
    }
    s
}

#[differentiate(reverse, forward)]
fn squared_steps_exclusive(x: &[f64], lo: usize, hi: usize) -> f64 {
    let mut s = 0.0;
    for i in lo..hi {
        s += (x[i + 1] - x[i]) * (x[i + 1] - x[i]) + x[i].cos();
    }
    s
}

#[differentiate(reverse, forward)]
fn squared_steps_inclusive(x: &[f64], lo: usize, hi: usize) -> f64 {
    let mut s = 0.0;
    for i in lo..=hi {
        s += (x[i + 1] - x[i]) * (x[i + 1] - x[i]) + x[i].cos();
    }
    s
}

/// The same value and gradient to rounding: the loops inside a branch are reversed by a second
/// loop, the others inside themselves, which adds the same terms in another order.
fn same_gradient(a: &(f64, Vec<f64>), b: &(f64, Vec<f64>)) {
    assert!(same(a.0, b.0), "values {} and {}", a.0, b.0);
    for (p, q) in a.1.iter().zip(&b.1) {
        assert!(close(*p, *q, 1e-14), "gradients {:?} and {:?}", a.1, b.1);
    }
}

#[test]
fn neighbouring_elements_over_every_kind_of_range() {
    let x = pseudo_random(120, 6);
    // Terms i in the range: ∂/∂x_k = 2 (x_k − x_{k−1}) [k − 1 in range]
    //                              − 2 (x_{k+1} − x_k) [k in range] − sin x_k [k in range].
    let closed = |range: &dyn Fn(usize) -> bool| -> Vec<f64> {
        (0..x.len())
            .map(|k| {
                let mut g = 0.0;
                if k >= 1 && range(k - 1) {
                    g += 2.0 * (x[k] - x[k - 1]);
                }
                if range(k) {
                    g += -2.0 * (x[k + 1] - x[k]) - x[k].sin();
                }
                g
            })
            .collect()
    };
    for (lo, hi) in [(0, 0), (3, 2), (2, 3), (0, 5), (1, 4), (4, 5), (5, 5)] {
        let open = |k: usize| (lo..hi).contains(&k);
        verify(
            &format!("squared_steps {lo}..{hi}"),
            &x,
            SMOOTH,
            |p| squared_steps_exclusive(p, lo, hi),
            |p| squared_steps_exclusive_grad(p, lo, hi),
            |p, d| squared_steps_exclusive_jvp(p, d, lo, hi),
            &closed(&open),
        );
        same_gradient(
            &squared_steps_grad(&x, lo, hi, false),
            &squared_steps_exclusive_grad(&x, lo, hi),
        );
        if hi < 5 {
            let closed_range = |k: usize| (lo..=hi).contains(&k);
            verify(
                &format!("squared_steps {lo}..={hi}"),
                &x,
                SMOOTH,
                |p| squared_steps_inclusive(p, lo, hi),
                |p| squared_steps_inclusive_grad(p, lo, hi),
                |p, d| squared_steps_inclusive_jvp(p, d, lo, hi),
                &closed(&closed_range),
            );
            same_gradient(
                &squared_steps_grad(&x, lo, hi, true),
                &squared_steps_inclusive_grad(&x, lo, hi),
            );
        }
    }
}

/// A local array filled with a parameter: each element starts as `x`, and carries its derivative.
#[differentiate(reverse, forward)]
fn filled_with_a_parameter(x: f64, y: f64) -> f64 {
    let mut h = [x; 3];
    h[1] *= y;
    h[0] + h[1] * h[2]
}

#[test]
fn local_array_filled_with_a_parameter() {
    for (x, y) in [(0.5, -1.25), (2.0, 0.75), (-1.5, 3.0)] {
        // x + (y x) x = x + x² y.
        verify(
            "filled_with_a_parameter",
            &[x, y],
            SMOOTH,
            |p| filled_with_a_parameter(p[0], p[1]),
            |p| {
                let (v, dx, dy) = filled_with_a_parameter_grad(p[0], p[1]);
                (v, vec![dx, dy])
            },
            |p, d| filled_with_a_parameter_jvp(p[0], d[0], p[1], d[1]),
            &[1.0 + 2.0 * x * y, x * x],
        );
    }
}

/// Products of neighbours at other offsets from the counter: `i + 2, i + 3` and `i - 1, i`,
/// whose additions to the later element are carried; `i - 1, i + 1` are not neighbours.
#[differentiate(reverse, forward)]
fn neighbours_ahead(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() - 3 {
        s += x[i + 2] * x[i + 3];
    }
    s
}

#[differentiate(reverse, forward)]
fn neighbours_behind(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 1..x.len() {
        s += x[i - 1] * x[i];
    }
    s
}

#[differentiate(reverse, forward)]
fn neighbours_apart(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 1..x.len() - 1 {
        s += x[i - 1] * x[i + 1];
    }
    s
}

/// `∂/∂x_m Σ_{j ∈ pairs} x[j] x[j + gap]`, for the first elements `j` of the pairs.
fn pair_products_closed(x: &[f64], first: std::ops::Range<usize>, gap: usize) -> Vec<f64> {
    (0..x.len())
        .map(|m| {
            let mut g = 0.0;
            if first.contains(&m) {
                g += x[m + gap];
            }
            if m >= gap && first.contains(&(m - gap)) {
                g += x[m - gap];
            }
            g
        })
        .collect()
}

#[test]
fn neighbours_at_other_offsets() {
    for n in [3, 4, 5, 9] {
        let x = pseudo_random(130 + n as u64, n);
        verify(
            &format!("neighbours_behind n={n}"),
            &x,
            SMOOTH,
            neighbours_behind,
            neighbours_behind_grad,
            neighbours_behind_jvp,
            &pair_products_closed(&x, 0..n - 1, 1),
        );
        verify(
            &format!("neighbours_apart n={n}"),
            &x,
            SMOOTH,
            neighbours_apart,
            neighbours_apart_grad,
            neighbours_apart_jvp,
            &pair_products_closed(&x, 0..n - 2, 2),
        );
        if n >= 4 {
            verify(
                &format!("neighbours_ahead n={n}"),
                &x,
                SMOOTH,
                neighbours_ahead,
                neighbours_ahead_grad,
                neighbours_ahead_jvp,
                &pair_products_closed(&x, 2..n - 1, 1),
            );
        }
    }
}

/// A local array declared in a loop body and stored to only in some iterations: an iteration
/// that skips the store reads the zeros of its own array, and the adjoint that its backward code
/// leaves there must not reach the store of the iteration before.
#[differentiate(reverse, forward)]
fn array_declared_in_loop(x: &[f64; 4]) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        let mut h = [0.0; 2];
        if x[i] > 0.0 {
            h[0] = x[i] * x[i];
        }
        s += h[0].sin() + h[1].cos();
    }
    s
}

/// `sin(v₀ + v₁)`, whose derivative is not zero where `v` is.
#[differentiate(reverse, forward)]
fn pair_sine(v: &[f64]) -> f64 {
    (v[0] + v[1]).sin()
}

/// The same through a call, with the stores after a `continue` in an inner loop: the shape of a
/// random program whose gradient was wrong.
#[differentiate(reverse, forward)]
fn array_declared_in_loop_to_call(x: &[f64; 4]) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        let mut h = [0.0; 2];
        for j in 0..2 {
            if x[i] < 0.0 {
                continue;
            }
            h[j] = x[i] * (j + 1) as f64;
        }
        s += pair_sine(&h);
    }
    s
}

#[test]
fn local_array_declared_in_a_loop_and_stored_in_some_iterations() {
    for x in [
        [0.7_f64, -0.4, 1.3, -1.1],
        [-0.5, 0.9, -0.2, 0.6],
        [1.2, 0.3, -0.8, 0.45],
    ] {
        // Σ over positive xᵢ of sin(xᵢ²) + cos(0) for every i.
        let closed: Vec<f64> = x
            .iter()
            .map(|&v| {
                if v > 0.0 {
                    2.0 * v * (v * v).cos()
                } else {
                    0.0
                }
            })
            .collect();
        verify(
            "array_declared_in_loop",
            &x,
            SMOOTH,
            |p| array_declared_in_loop(&[p[0], p[1], p[2], p[3]]),
            |p| {
                let (v, d) = array_declared_in_loop_grad(&[p[0], p[1], p[2], p[3]]);
                (v, d.to_vec())
            },
            |p, d| array_declared_in_loop_jvp(&[p[0], p[1], p[2], p[3]], &[d[0], d[1], d[2], d[3]]),
            &closed,
        );
        // Σ over non-negative xᵢ of sin(3 xᵢ).
        let closed: Vec<f64> = x
            .iter()
            .map(|&v| if v < 0.0 { 0.0 } else { 3.0 * (3.0 * v).cos() })
            .collect();
        verify(
            "array_declared_in_loop_to_call",
            &x,
            SMOOTH,
            |p| array_declared_in_loop_to_call(&[p[0], p[1], p[2], p[3]]),
            |p| {
                let (v, d) = array_declared_in_loop_to_call_grad(&[p[0], p[1], p[2], p[3]]);
                (v, d.to_vec())
            },
            |p, d| {
                array_declared_in_loop_to_call_jvp(
                    &[p[0], p[1], p[2], p[3]],
                    &[d[0], d[1], d[2], d[3]],
                )
            },
            &closed,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Branches that leave instead of giving a value.

/// `let r = if .. { value } else { return .. };`: f = 2x² + x for k = 0, sin x otherwise.
#[differentiate(reverse, forward, hessian)]
fn leave_in_else(x: f64, k: i32) -> f64 {
    let r = if k == 0 {
        x * x
    } else {
        return x.sin();
    };
    r * 2.0 + x
}

/// The same through `match` arms that leave with and without a block: f = 2x² + x (k = 0),
/// sin x (k = 1), 3x (otherwise).
#[differentiate(reverse, forward, hessian)]
fn leave_in_arm(x: f64, k: i32) -> f64 {
    let r = match k {
        0 => x * x,
        1 => return x.sin(),
        _ => {
            return 3.0 * x;
        }
    };
    r * 2.0 + x
}

/// A loop whose `let` takes a value or leaves the loop: Σ xᵢ² over the leading positive xᵢ.
#[differentiate(reverse, forward)]
fn leading_positive_squares(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        let t = if x[i] > 0.0 { x[i] * x[i] } else { break };
        s += t;
    }
    s
}

#[test]
fn branches_that_leave() {
    for x in [0.7_f64, -1.3, 2.1] {
        for k in 0..3 {
            // (value, f', f'') by hand.
            let two = (2.0 * x * x + x, 4.0 * x + 1.0, 4.0);
            let sine = (x.sin(), x.cos(), -x.sin());
            let want_else = if k == 0 { two } else { sine };
            let want_arm = match k {
                0 => two,
                1 => sine,
                _ => (3.0 * x, 3.0, 0.0),
            };
            for (name, got, want) in [
                ("else", leave_in_else_hvp(x, 1.0, k), want_else),
                ("arm", leave_in_arm_hvp(x, 1.0, k), want_arm),
            ] {
                assert!(close(got.0, want.0, 1e-14), "{name} value at ({x}, {k})");
                assert!(close(got.1, want.1, 1e-14), "{name} f' at ({x}, {k})");
                assert!(close(got.2, want.2, 1e-14), "{name} f'' at ({x}, {k})");
            }
            assert_eq!(leave_in_else_grad(x, k), (want_else.0, want_else.1));
            let (_, t) = leave_in_arm_jvp(x, 1.0, k);
            assert!(close(t, want_arm.1, 1e-14));
        }
    }
    let x = [0.5, 2.0, -1.0, 3.0];
    let (value, g) = leading_positive_squares_grad(&x);
    assert!(close(value, 4.25, 1e-15));
    assert_eq!(g, vec![1.0, 4.0, 0.0, 0.0]);
    let (_, t) = leading_positive_squares_jvp(&x, &[1.0, 1.0, 1.0, 1.0]);
    assert!(close(t, 5.0, 1e-15));
}

/// Integer values of `if` and `match` (constants): f = x (k + j), k = 2 for n > 1 else 0, j = 1
/// for n = 0 else 3.
#[differentiate(reverse, forward, hessian)]
fn integer_branch_values(x: f64, n: i32) -> f64 {
    let k = if n > 1 { 2 } else { 0 };
    let j: i32 = match n {
        0 => 1,
        _ => 3,
    };
    x * f64::from(k) + x * f64::from(j)
}

#[test]
fn branches_with_integer_values() {
    for n in [0, 1, 2] {
        let c = f64::from(if n > 1 { 2 } else { 0 } + if n == 0 { 1 } else { 3 });
        assert_eq!(integer_branch_values_grad(1.5, n), (1.5 * c, c));
        assert_eq!(integer_branch_values_jvp(1.5, 2.0, n), (1.5 * c, 2.0 * c));
        assert_eq!(integer_branch_values_hvp(1.5, 1.0, n), (1.5 * c, c, 0.0));
    }
}

// ---------------------------------------------------------------------------------------------
// A branch that gives a value after a conditional `return` or `break`.

/// `let y = match k { 0 => cos x, _ => { if x > 0 { return eˣ; } x } }; y x`: f = x cos x for
/// k = 0, eˣ for k ≠ 0 and x > 0, x² otherwise.
#[differentiate(reverse, forward, hessian, graph)]
fn leave_inside_arm(x: f64, k: i32) -> f64 {
    let y = match k {
        0 => x.cos(),
        _ => {
            if x > 0.0 {
                return x.exp();
            }
            x
        }
    };
    y * x
}

/// The same with `if`/`else`.
#[differentiate(reverse, forward, hessian, graph)]
fn leave_inside_else(x: f64, k: i32) -> f64 {
    let y = if k == 0 {
        x.cos()
    } else {
        if x > 0.0 {
            return x.exp();
        }
        x
    };
    y * x
}

/// A loop whose `match` arm may `break` before its value: s₀ = x, sᵢ₊₁ = sᵢ + sᵢ x while
/// sᵢ ≤ 2, over n iterations.
#[differentiate(reverse, forward)]
fn break_inside_arm(x: f64, n: i32) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        let t = match i {
            0 => x,
            _ => {
                if s > 2.0 {
                    break;
                }
                s * x
            }
        };
        s += t;
    }
    s
}

#[test]
fn conditional_return_inside_a_branch_value() {
    for (x, k) in [(0.5_f64, 1), (-0.5, 1), (0.5, 0), (-0.5, 0), (1.3, 2)] {
        // (value, f', f'') by hand.
        let want = if k == 0 {
            (
                x * x.cos(),
                x.cos() - x * x.sin(),
                -2.0 * x.sin() - x * x.cos(),
            )
        } else if x > 0.0 {
            (x.exp(), x.exp(), x.exp())
        } else {
            (x * x, 2.0 * x, 2.0)
        };
        for (name, grad, jvp, hvp, graph) in [
            (
                "arm",
                leave_inside_arm_grad(x, k),
                leave_inside_arm_jvp(x, 1.0, k),
                leave_inside_arm_hvp(x, 1.0, k),
                leave_inside_arm_graph(x, k),
            ),
            (
                "else",
                leave_inside_else_grad(x, k),
                leave_inside_else_jvp(x, 1.0, k),
                leave_inside_else_hvp(x, 1.0, k),
                leave_inside_else_graph(x, k),
            ),
        ] {
            assert!(close(grad.0, want.0, 1e-15), "{name} value at ({x}, {k})");
            assert!(close(grad.1, want.1, 1e-14), "{name} f' at ({x}, {k})");
            assert!(close(jvp.1, want.1, 1e-14), "{name} jvp at ({x}, {k})");
            assert!(close(hvp.1, want.1, 1e-14), "{name} hvp f' at ({x}, {k})");
            assert!(close(hvp.2, want.2, 1e-14), "{name} f'' at ({x}, {k})");
            let node = graph.node("x").expect("the parameter's node");
            assert!(
                close(node.adjoint(), want.1, 1e-14),
                "{name} graph at ({x}, {k})"
            );
        }
    }
    // x = 0.5: s = 0.5, 0.75, 1.125, 1.6875, 2.53125 (n = 5), then the loop breaks.
    for n in 0..8 {
        let (mut s, mut ds) = (0.0, 0.0);
        let x = 0.5;
        for i in 0..n {
            if i == 0 {
                (s, ds) = (x, 1.0);
            } else if s > 2.0 {
                break;
            } else {
                (s, ds) = (s + s * x, ds + ds * x + s);
            }
        }
        let (value, g) = break_inside_arm_grad(x, n);
        assert!(close(value, s, 1e-15), "value for n = {n}");
        assert!(close(g, ds, 1e-14), "gradient for n = {n}");
        assert!(
            close(break_inside_arm_jvp(x, 1.0, n).1, ds, 1e-14),
            "jvp for n = {n}"
        );
    }
}

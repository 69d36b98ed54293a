//! Clad's own test programs (github.com/vgvassilev/clad, `test/`), ported to Rust as a Rust user
//! writes them and differentiated as written: each generated gradient is checked against
//! fourth-order central finite differences of the original function, each `f_jvp` against the
//! gradient dotted with a direction, each Hessian against central differences of a checked
//! gradient, each Jacobian against finite differences of the function.
//!
//! The programs come from `Gradient/Loops.C`, `Gradient/Gradients.C`, `Gradient/Assignments.C`,
//! `Gradient/Switch.C`, `Gradient/EarlyReturns.C`, `Gradient/FunctionCalls.C`,
//! `Gradient/Lambdas.C`, `Gradient/CommaOperator.C`, `Gradient/TestTypeConversion.C`,
//! `Gradient/UnaryMinus.C`, `Gradient/UserDefinedTypes.C`,
//! `FirstDerivative/Loops.C`, `FirstDerivative/Switch.C`, `FirstDerivative/CompoundAssignments.C`,
//! `FirstDerivative/BuiltinDerivatives.C`, `FirstDerivative/FunctionCallsWithResults.C`,
//! `ForwardMode/VectorMode.C`, `Hessian/Hessians.C`, `Hessian/Arrays.C`,
//! `Hessian/NestedArrays.C`, `Hessian/NestedFunctionCalls.C`, `Hessian/EarlyReturns.C`,
//! `Hessian/TBR.C`, `Hessian/VectorProducts.C`, `Hessian/ZeroTangentCalls.C`,
//! `Hessian/PerDirectionFallback.C`, `Hessian/BuiltinDerivatives.C`, `Jacobian/Jacobian.C` and
//! `Jacobian/FunctionCalls.C`. C++ pointers and references that mutate scalars become `mut`
//! parameters, locals and `&mut [f64]` buffers; `switch` becomes `match`; `do`/`while` loops
//! become `loop` with a `break`; the comma operator and assignments inside conditions become
//! blocks; lambdas become closures; functions writing several outputs return arrays or tuples.
//! Every function of one or two scalars is also checked to second order.
#![allow(
    // Counters as `f64`, as the C++ originals convert them; they are small.
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    // The ports keep the originals' index loops and `continue`s.
    clippy::needless_range_loop,
    clippy::needless_continue
)]

use std::f64::consts::PI;

use autodiff::differentiate;

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::oracles::{
    EXACT, FD, assert_near, check_hessian, direction, dot, fd_gradient, fd_jacobian,
};

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn same_value(what: &str, got: f64, want: f64) {
    assert!(
        got == want || (got.is_nan() && want.is_nan()),
        "{what}: value {got:e}, the function gives {want:e}"
    );
}

/// `grad` against fourth-order differences of `f` at `p`, and `jvp` along a fixed direction
/// against the gradient dotted with it; both values against `f`'s.
type DynGrad<'a> = dyn Fn(&[f64]) -> (f64, Vec<f64>) + 'a;
type DynJvp<'a> = dyn Fn(&[f64], &[f64]) -> (f64, f64) + 'a;

#[track_caller]
fn check_point(
    name: &str,
    p: &[f64],
    f: &dyn Fn(&[f64]) -> f64,
    grad: &DynGrad<'_>,
    jvp: &DynJvp<'_>,
) {
    let want = f(p);
    let (value, g) = grad(p);
    same_value(&format!("{name}_grad at {p:?}"), value, want);
    assert_near(
        &format!("{name} gradient at {p:?}"),
        &g,
        &fd_gradient(f, p),
        FD,
    );
    let dir = direction(p.len());
    let (vj, t) = jvp(p, &dir);
    same_value(&format!("{name}_jvp at {p:?}"), vj, want);
    let scale: f64 = g.iter().zip(&dir).map(|(a, b)| (a * b).abs()).sum();
    let d = dot(&g, &dir);
    assert!(
        (t - d).abs() <= 1e-10 * scale + 1e-13,
        "{name}_jvp at {p:?} along {dir:?}: {t:e}, gradient · direction {d:e}"
    );
}

type Grad1 = fn(f64) -> (f64, f64);
type Jvp1 = fn(f64, f64) -> (f64, f64);
type Hess2 = fn(f64, f64) -> (f64, f64, f64, [[f64; 2]; 2]);
type Hvp2 = fn(f64, f64, f64, f64) -> (f64, f64, f64, f64, f64);
type Grad2 = fn(f64, f64) -> (f64, f64, f64);
type Jvp2 = fn(f64, f64, f64, f64) -> (f64, f64);
type Grad3 = fn(f64, f64, f64) -> (f64, f64, f64, f64);
type Jvp3 = fn(f64, f64, f64, f64, f64, f64) -> (f64, f64);

#[track_caller]
fn scalar1(name: &str, pts: &[f64], f: fn(f64) -> f64, g: Grad1, j: Jvp1) {
    for &x in pts {
        check_point(
            name,
            &[x],
            &|p| f(p[0]),
            &|p| {
                let (v, a) = g(p[0]);
                (v, vec![a])
            },
            &|p, d| j(p[0], d[0]),
        );
    }
}

#[track_caller]
fn scalar2(name: &str, pts: &[[f64; 2]], f: fn(f64, f64) -> f64, g: Grad2, j: Jvp2) {
    for p in pts {
        check_point(
            name,
            p,
            &|p| f(p[0], p[1]),
            &|p| {
                let (v, a, b) = g(p[0], p[1]);
                (v, vec![a, b])
            },
            &|p, d| j(p[0], d[0], p[1], d[1]),
        );
    }
}

#[track_caller]
fn scalar3(name: &str, pts: &[[f64; 3]], f: fn(f64, f64, f64) -> f64, g: Grad3, j: Jvp3) {
    for p in pts {
        check_point(
            name,
            p,
            &|p| f(p[0], p[1], p[2]),
            &|p| {
                let (v, a, b, c) = g(p[0], p[1], p[2]);
                (v, vec![a, b, c])
            },
            &|p, d| j(p[0], d[0], p[1], d[1], p[2], d[2]),
        );
    }
}

#[track_caller]
fn slice1(
    name: &str,
    pts: &[&[f64]],
    f: fn(&[f64]) -> f64,
    g: fn(&[f64]) -> (f64, Vec<f64>),
    j: fn(&[f64], &[f64]) -> (f64, f64),
) {
    for p in pts {
        check_point(name, p, &|p| f(p), &|p| g(p), &|p, d| j(p, d));
    }
}

/// The Hessian of a function of two scalars against differences of its (checked) gradient,
/// the gradient `f_hessian` returns against `f_grad`'s, and `f_hvp` against `hess · v`.
#[track_caller]
fn hessian2(name: &str, pts: &[[f64; 2]], g: Grad2, h: Hess2, hvp: Hvp2) {
    for p in pts {
        let (v, a, b) = g(p[0], p[1]);
        let (vh, ah, bh, hess) = h(p[0], p[1]);
        same_value(&format!("{name}_hessian at {p:?}"), vh, v);
        assert_near(
            &format!("{name}_hessian gradient"),
            &[ah, bh],
            &[a, b],
            EXACT,
        );
        let grad = |q: &[f64]| {
            let (_, a, b) = g(q[0], q[1]);
            vec![a, b]
        };
        check_hessian(
            &format!("{name} hessian at {p:?}"),
            hess.as_flattened(),
            grad,
            p,
        );
        let dir = direction(2);
        let (vv, av, bv, hx, hy) = hvp(p[0], dir[0], p[1], dir[1]);
        same_value(&format!("{name}_hvp at {p:?}"), vv, v);
        assert_near(&format!("{name}_hvp gradient"), &[av, bv], &[a, b], EXACT);
        let want: Vec<f64> = hess.iter().map(|row| dot(row, &dir)).collect();
        assert_near(&format!("{name}_hvp at {p:?}"), &[hx, hy], &want, 1e-9);
    }
}

/// A Jacobian (row-major, `m × n`) against finite differences of `f`.
#[track_caller]
fn check_jacobian(name: &str, p: &[f64], f: &dyn Fn(&[f64]) -> Vec<f64>, jac: &[f64]) {
    let want: Vec<f64> = fd_jacobian(f, p).into_iter().flatten().collect();
    assert_near(&format!("{name} jacobian at {p:?}"), jac, &want, FD);
}

// ---------------------------------------------------------------------------------------------
// Gradient/Loops.C
// ---------------------------------------------------------------------------------------------

/// x³.
#[differentiate(reverse, forward, hessian)]
fn loops_f1(x: f64) -> f64 {
    let mut t = 1.0;
    for _ in 0..3 {
        t *= x;
    }
    t
}

/// x⁹, by nested loops.
#[differentiate(reverse, forward, hessian)]
fn loops_f2(x: f64) -> f64 {
    let mut t = 1.0;
    for _ in 0..3 {
        for _ in 0..3 {
            t *= x;
        }
    }
    t
}

/// x², by a return from inside the loop.
#[differentiate(reverse, forward, hessian)]
fn loops_f3(x: f64) -> f64 {
    let mut t = 1.0;
    for i in 0..3 {
        t *= x;
        if i == 1 {
            return t;
        }
    }
    t
}

/// x³: `for (int i = 0; i < 3; t *= x) i++;`.
#[differentiate(reverse, forward, hessian)]
fn loops_f4(x: f64) -> f64 {
    let mut t = 1.0;
    let mut i = 0;
    while i < 3 {
        i += 1;
        t *= x;
    }
    t
}

/// x + 10, incrementing the parameter.
#[differentiate(reverse, forward, hessian)]
fn loops_f5(mut x: f64) -> f64 {
    for _ in 0..10 {
        x += 1.0;
    }
    x
}

/// 3x² + 3x, with a constant local per iteration.
#[differentiate(reverse, forward, hessian)]
fn loops_const_local(x: f64) -> f64 {
    let mut res = 0.0;
    for i in 0..3 {
        let n = x + f64::from(i);
        res += x * n;
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_sum(p: &[f64], n: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        s += p[i];
    }
    s
}

#[differentiate(reverse, forward, hessian)]
fn sq(x: f64) -> f64 {
    x * x
}

#[differentiate(reverse, forward, hessian)]
fn loops_sum_squares(p: &[f64]) -> f64 {
    let mut s = 0.0;
    for &v in p {
        s += sq(v);
    }
    s
}

/// The log-likelihood of an n-dimensional Gaussian with covariance σ²I.
#[differentiate(reverse, forward, hessian)]
fn loops_log_gaus(x: &[f64], p: &[f64], sigma: f64) -> f64 {
    let n = x.len();
    let mut power = 0.0;
    for i in 0..n {
        power += sq(x[i] - p[i]);
    }
    power = -power / (2.0 * sq(sigma));
    let gaus = 1.0 / ((2.0 * PI).powf(n as f64) * sigma).sqrt() * power.exp();
    gaus.ln()
}

/// Integer arithmetic of the inputs: piecewise constant.
#[differentiate(reverse, forward, hessian)]
fn loops_const(a: f64, b: f64) -> f64 {
    let mut r = 0_i32;
    let mut i = 0_i32;
    while f64::from(i) < a {
        let sq = (b * b) as i32;
        r += sq;
        i += 1;
    }
    f64::from(r)
}

#[differentiate(reverse, forward, hessian)]
fn loops_f6(i: f64, j: f64) -> f64 {
    let mut a = 0.0;
    for _ in 0..3 {
        let mut b = i * i;
        let c = j * j;
        b += j;
        a += b + c + i;
    }
    a
}

/// `while (counter--)`.
#[differentiate(reverse, forward, hessian)]
fn loops_fn7(i: f64, j: f64) -> f64 {
    let mut a = 0.0;
    let mut counter = 3;
    while counter > 0 {
        counter -= 1;
        a += i * i + j;
    }
    a
}

/// A `do`-`while` inside a `while`.
#[differentiate(reverse, forward, hessian)]
fn loops_fn8(i: f64, j: f64) -> f64 {
    let mut a = 0.0;
    let mut counter = 3;
    while counter > 0 {
        loop {
            a += i * i + j;
            counter -= 1;
            if counter == 0 {
                break;
            }
        }
    }
    a
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn9(i: f64, j: f64) -> f64 {
    let mut counter = 3;
    let mut a = 0.0;
    while counter > 0 {
        counter -= 1;
        let mut counter_again = 3;
        while counter_again > 0 {
            counter_again -= 1;
            a += i * i + j;
        }
    }
    a
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn10(i: f64, j: f64) -> f64 {
    let mut a = 0.0;
    let mut counter = 3;
    while counter != 0 {
        let mut b = f64::from(counter);
        b += i * i + j;
        a += b;
        counter -= 1;
    }
    a
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn11(i: f64, j: f64) -> f64 {
    let mut counter = 3;
    let mut a = 0.0;
    loop {
        a += i * i + j;
        counter -= 1;
        if counter == 0 {
            break;
        }
    }
    a
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn12(i: f64, j: f64) -> f64 {
    let mut counter = 3;
    let mut a = 0.0;
    loop {
        let mut counter_again = 3;
        loop {
            a += i * i + j;
            counter_again -= 1;
            a += j;
            if counter_again == 0 {
                break;
            }
        }
        counter -= 1;
        if counter == 0 {
            break;
        }
    }
    a
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn13(i: f64, j: f64) -> f64 {
    let mut res = 0.0;
    let mut counter = 3;
    while counter != 0 {
        let k = f64::from(counter) + i + 2.0 * j;
        let temp = k;
        res += temp;
        counter -= 1;
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn14(i: f64, j: f64) -> f64 {
    let mut choice = 5;
    let mut res = 0.0;
    while choice > 0 {
        choice -= 1;
        if choice > 3 {
            res += i;
            continue;
        }
        if choice > 1 {
            res += j;
            continue;
        }
        if choice > 0 {
            res += i * j;
        }
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn15(i: f64, j: f64) -> f64 {
    let mut choice = 5;
    let mut res = 0.0;
    while choice > 0 {
        choice -= 1;
        if choice > 2 {
            continue;
        }
        let mut another_choice = 3;
        while another_choice > 0 {
            another_choice -= 1;
            if another_choice > 1 {
                res += i;
                continue;
            }
            if another_choice > 0 {
                res += j;
            }
        }
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn16(i: f64, j: f64) -> f64 {
    let counter = 5;
    let mut res = 0.0;
    for ii in 0..counter {
        if ii == 4 {
            res += i * j;
            break;
        }
        if ii > 2 {
            res += 2.0 * i;
            continue;
        }
        res += i + j;
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn17(i: f64, j: f64) -> f64 {
    let counter = 5;
    let mut res = 0.0;
    for ii in 0..counter {
        let mut jj = ii;
        if ii < 2 {
            continue;
        }
        while jj > 0 {
            jj -= 1;
            if jj < 3 {
                res += i * j;
                break;
            }
        }
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn18(i: f64, j: f64) -> f64 {
    let choice = 5;
    let mut res = 0.0;
    for counter in 0..choice {
        if counter < 2 {
            res += i + j;
        } else if counter < 4 {
            continue;
        } else {
            res += 2.0 * i + 2.0 * j;
            break;
        }
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn19(arr: &[f64]) -> f64 {
    let mut res = 0.0;
    for v in arr {
        res += v;
    }
    res
}

/// A Riemann sum of x² over [lower, upper] with a floating-point loop variable.
#[differentiate(reverse, forward, hessian)]
fn loops_init_var(lower: f64, upper: f64) -> f64 {
    let mut sum = 0.0;
    let num_points = 1000.0;
    let interval = (upper - lower) / num_points;
    let mut x = lower;
    while x <= upper {
        sum += x * x * interval;
        x += interval;
    }
    sum
}

/// `res += (arr[i] *= 5)` on a copy of the slice.
#[differentiate(reverse, forward, hessian)]
fn loops_fn20(arr: &[f64]) -> f64 {
    let mut a = arr.to_vec();
    let mut res = 0.0;
    for i in 0..a.len() {
        a[i] *= 5.0;
        res += a[i];
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn21(x: f64) -> f64 {
    let mut res = 0.0;
    for _ in 0..5 {
        let arr = [1.0, x, 2.0];
        res += arr[0] + arr[1];
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn22(param: f64) -> f64 {
    let mut out = 0.0;
    for _ in 0..1 {
        let arr = [1.0];
        out += arr[0] * param;
    }
    out
}

/// `for (int c = 0; (res += i * j), c < 3; ++c) {}`.
#[differentiate(reverse, forward, hessian)]
fn loops_fn24(i: f64, j: f64) -> f64 {
    let mut res = 0.0;
    let mut c = 0;
    loop {
        res += i * j;
        if c >= 3 {
            break;
        }
        c += 1;
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn25(i: f64, j: f64) -> f64 {
    let mut res = 0.0;
    let mut c = 0;
    loop {
        res += i * j;
        if c >= 3 {
            break;
        }
        if c == 1 {
            res = 8.0 * i * j;
            break;
        }
        c += 1;
    }
    res
}

/// `for (int c = 0; (res += i * j); ++c) { if (c == 2) break; res = c * i * j; }`.
#[differentiate(reverse, forward, hessian)]
fn loops_fn27(i: f64, j: f64) -> f64 {
    let mut res = 0.0;
    let mut c = 0;
    loop {
        res += i * j;
        if res == 0.0 || c == 2 {
            break;
        }
        res = f64::from(c) * i * j;
        c += 1;
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn32(i: f64, j: f64) -> f64 {
    let mut res = 0.0;
    let mut c = 0;
    loop {
        res += i * j;
        if res == 0.0 {
            break;
        }
        let mut d = 0;
        loop {
            res += i * j;
            if res == 0.0 {
                break;
            }
            if d == 1 {
                res += i * j;
                break;
            }
            d += 1;
        }
        if c == 1 {
            res += i * j;
            break;
        }
        c += 1;
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn34(x: f64, y: f64) -> f64 {
    let mut r = 0.0;
    let a = [y, x * y, x * x + y];
    for v in &a {
        r += v * v;
    }
    r
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn35(x: f64, y: f64) -> f64 {
    let mut r = 0.0;
    let a = [x, x * y, 0.0];
    for i in &a {
        for j in &a {
            if r <= x * x {
                r += i * j;
            } else if r > x * x {
                break;
            }
        }
    }
    r
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn36(x: f64, _y: f64) -> f64 {
    let a = [1.0, 2.0, 3.0];
    let mut sum = 0.0;
    for v in a {
        if sum > x {
            continue;
        }
        sum += f64::sin(v) * x;
    }
    sum
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn37(x: f64, y: f64) -> f64 {
    let range = [x, 4.0, y];
    let mut sum = 0.0;
    for elem in range {
        sum += elem;
    }
    sum
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn38(x: f64, y: f64) -> f64 {
    let mut sum = 0.0;
    if x > 0.0 {
        for elem in [1.0, x, 2.0, y, 3.0] {
            sum += elem;
        }
    }
    sum
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn39(x: f64) -> f64 {
    let mut res = 0.0;
    for i in [1, 2, 3] {
        res += x * f64::from(i);
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn40(u: f64, _v: f64) -> f64 {
    let mut res = 11.0 * u;
    for i in 0..3 {
        res += u * f64::from(i);
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn41(u: f64, _v: f64) -> f64 {
    let mut res = 0.0;
    for i in 1..3 {
        res += f64::from(i) * u;
        if i == 1 {
            break;
        }
    }
    res
}

/// `tmp::forward`: one weight of a layer, in `f32`.
#[differentiate(reverse, forward, hessian)]
fn tmp_forward(x: f32, z: f32) -> f32 {
    x + z
}

/// `layer::forward` over the layer's weights.
#[differentiate(reverse, forward, hessian)]
fn layer_forward(w: &[f32], inp: f32) -> f32 {
    let mut x = inp;
    for &z in w {
        x = tmp_forward(x, z);
    }
    x
}

#[differentiate(reverse, forward, hessian)]
fn loops_fn43(x: &[f64], _y: f64) -> f64 {
    let mut out = 0.0;
    for i in 0..3 {
        let t4 = x[i];
        out += 1.0 / t4;
    }
    out
}

/// 100 (y/x)².
#[differentiate(reverse, forward, hessian)]
fn loops_fn45(x: f64, y: f64) -> f64 {
    let mut sum = 0.0;
    for _ in 0..100 {
        let t1 = x;
        let t2 = y / t1;
        sum += t2.powi(2);
    }
    sum
}

/// 100 (y/x)², by a `while` and a `do`-`while`.
#[differentiate(reverse, forward, hessian)]
fn loops_fn46(x: f64, y: f64) -> f64 {
    let mut sum = 0.0;
    let mut i = 0;
    while i < 50 {
        let t1 = x;
        let t2 = y / t1;
        sum += t2.powf(2.0);
        i += 1;
    }
    loop {
        let t1 = x;
        let t2 = y / t1;
        sum += t2.powf(2.0);
        i += 1;
        if i >= 100 {
            break;
        }
    }
    sum
}

const P2: [[f64; 2]; 3] = [[1.3, -0.7], [0.45, 2.1], [-1.6, 0.95]];

#[test]
fn gradient_loops() {
    scalar1(
        "loops_f1",
        &[3.0, -0.7, 1.9],
        loops_f1,
        loops_f1_grad,
        loops_f1_jvp,
    );
    scalar1(
        "loops_f2",
        &[1.1, -0.7, 0.9],
        loops_f2,
        loops_f2_grad,
        loops_f2_jvp,
    );
    scalar1(
        "loops_f3",
        &[3.0, -0.7],
        loops_f3,
        loops_f3_grad,
        loops_f3_jvp,
    );
    scalar1(
        "loops_f4",
        &[3.0, -0.7],
        loops_f4,
        loops_f4_grad,
        loops_f4_jvp,
    );
    scalar1(
        "loops_f5",
        &[3.0, -0.7],
        loops_f5,
        loops_f5_grad,
        loops_f5_jvp,
    );
    scalar1(
        "loops_const_local",
        &[3.0, -0.7],
        loops_const_local,
        loops_const_local_grad,
        loops_const_local_jvp,
    );
    scalar2(
        "loops_const",
        &[[2.3, 3.1], [1.5, -2.2]],
        loops_const,
        loops_const_grad,
        loops_const_jvp,
    );
    for (name, f, g, j) in [
        (
            "loops_f6",
            loops_f6 as fn(f64, f64) -> f64,
            loops_f6_grad as Grad2,
            loops_f6_jvp as Jvp2,
        ),
        ("loops_fn7", loops_fn7, loops_fn7_grad, loops_fn7_jvp),
        ("loops_fn8", loops_fn8, loops_fn8_grad, loops_fn8_jvp),
        ("loops_fn9", loops_fn9, loops_fn9_grad, loops_fn9_jvp),
        ("loops_fn10", loops_fn10, loops_fn10_grad, loops_fn10_jvp),
        ("loops_fn11", loops_fn11, loops_fn11_grad, loops_fn11_jvp),
        ("loops_fn12", loops_fn12, loops_fn12_grad, loops_fn12_jvp),
        ("loops_fn13", loops_fn13, loops_fn13_grad, loops_fn13_jvp),
        ("loops_fn14", loops_fn14, loops_fn14_grad, loops_fn14_jvp),
        ("loops_fn15", loops_fn15, loops_fn15_grad, loops_fn15_jvp),
        ("loops_fn16", loops_fn16, loops_fn16_grad, loops_fn16_jvp),
        ("loops_fn17", loops_fn17, loops_fn17_grad, loops_fn17_jvp),
        ("loops_fn18", loops_fn18, loops_fn18_grad, loops_fn18_jvp),
        ("loops_fn24", loops_fn24, loops_fn24_grad, loops_fn24_jvp),
        ("loops_fn25", loops_fn25, loops_fn25_grad, loops_fn25_jvp),
        ("loops_fn27", loops_fn27, loops_fn27_grad, loops_fn27_jvp),
        ("loops_fn32", loops_fn32, loops_fn32_grad, loops_fn32_jvp),
        ("loops_fn34", loops_fn34, loops_fn34_grad, loops_fn34_jvp),
        ("loops_fn37", loops_fn37, loops_fn37_grad, loops_fn37_jvp),
        ("loops_fn38", loops_fn38, loops_fn38_grad, loops_fn38_jvp),
        ("loops_fn40", loops_fn40, loops_fn40_grad, loops_fn40_jvp),
        ("loops_fn41", loops_fn41, loops_fn41_grad, loops_fn41_jvp),
        ("loops_fn45", loops_fn45, loops_fn45_grad, loops_fn45_jvp),
        ("loops_fn46", loops_fn46, loops_fn46_grad, loops_fn46_jvp),
    ] {
        scalar2(name, &P2, f, g, j);
    }
    // Clad's points: fn35 at (2, 2) is {12, 4}; fn36 at (1, 1) is {1.75, 0}.
    assert_eq!(loops_fn35_grad(2.0, 2.0), (loops_fn35(2.0, 2.0), 12.0, 4.0));
    scalar2(
        "loops_fn35",
        &[[2.1, 1.7], [1.2, -0.6], [-0.9, 0.8]],
        loops_fn35,
        loops_fn35_grad,
        loops_fn35_jvp,
    );
    let (_, d36, _) = loops_fn36_grad(1.0, 1.0);
    assert!((d36 - (1.0_f64.sin() + 2.0_f64.sin())).abs() < 1e-15);
    scalar2(
        "loops_fn36",
        &[[1.0, 1.0], [0.3, 2.0], [2.5, -1.0]],
        loops_fn36,
        loops_fn36_grad,
        loops_fn36_jvp,
    );
    // The trip count of `loops_init_var` moves with the step of finite differences, so its
    // oracle is the same sum with the trip count of the point held fixed.
    for (lower, upper) in [(1.0, 2.0), (-0.5, 1.25)] {
        let interval = (upper - lower) / 1000.0;
        let mut trips = 0;
        let mut x = lower;
        while x <= upper {
            x += interval;
            trips += 1;
        }
        let fixed = |q: &[f64]| {
            let h = (q[1] - q[0]) / 1000.0;
            let (mut sum, mut x) = (0.0, q[0]);
            for _ in 0..trips {
                sum += x * x * h;
                x += h;
            }
            sum
        };
        let (v, dl, du) = loops_init_var_grad(lower, upper);
        assert_eq!(v, loops_init_var(lower, upper));
        assert_near(
            "loops_init_var",
            &[dl, du],
            &fd_gradient(fixed, &[lower, upper]),
            FD,
        );
        let (_, t) = loops_init_var_jvp(lower, 0.5, upper, -1.5);
        assert!((t - (0.5 * dl - 1.5 * du)).abs() < 1e-10);
    }
    scalar1(
        "loops_fn21",
        &[5.0, -0.3],
        loops_fn21,
        loops_fn21_grad,
        loops_fn21_jvp,
    );
    scalar1(
        "loops_fn22",
        &[5.0, -0.3],
        loops_fn22,
        loops_fn22_grad,
        loops_fn22_jvp,
    );
    scalar1(
        "loops_fn39",
        &[9.0, -0.3],
        loops_fn39,
        loops_fn39_grad,
        loops_fn39_jvp,
    );
}

#[test]
fn gradient_loops_over_slices() {
    let p = [1.0, 2.0, 3.0, 4.0, 5.0];
    let (v, d) = loops_sum_grad(&p, 5);
    assert_eq!((v, d), (15.0, vec![1.0; 5]));
    let (v, d) = loops_sum_grad(&p, 3);
    assert_eq!((v, d), (6.0, vec![1.0, 1.0, 1.0, 0.0, 0.0]));
    let (_, t) = loops_sum_jvp(&p, &[0.5, 1.0, 2.0, 4.0, 8.0], 4);
    assert_eq!(t, 7.5);
    slice1(
        "loops_sum_squares",
        &[&p, &[0.3, -1.2]],
        loops_sum_squares,
        loops_sum_squares_grad,
        loops_sum_squares_jvp,
    );
    slice1(
        "loops_fn19",
        &[&p, &[0.3, -1.2]],
        loops_fn19,
        loops_fn19_grad,
        loops_fn19_jvp,
    );
    slice1(
        "loops_fn20",
        &[&p, &[0.3, -1.2]],
        loops_fn20,
        loops_fn20_grad,
        loops_fn20_jvp,
    );
    let x = [1.0; 5];
    // Clad: ∂/∂p of the log-likelihood at x = 1, p = 1..5, σ = 2 is {0, -0.25, -0.5, -0.75, -1}.
    let (v, _, dp, _) = loops_log_gaus_grad(&x, &p, 2.0);
    assert_eq!(v, loops_log_gaus(&x, &p, 2.0));
    assert_near(
        "log_gaus ∂/∂p",
        &dp,
        &[0.0, -0.25, -0.5, -0.75, -1.0],
        EXACT,
    );
    for (x, p, s) in [
        ([0.3, -0.4, 1.1], [1.0, 0.2, 0.5], 0.8),
        ([2.0, 1.0, -1.0], [0.0, 0.5, 0.1], 1.7),
    ] {
        let f = |q: &[f64]| loops_log_gaus(&q[0..3], &q[3..6], q[6]);
        let (_, dx, dp, ds) = loops_log_gaus_grad(&x, &p, s);
        let mut got = dx.clone();
        got.extend(&dp);
        got.push(ds);
        let at: Vec<f64> = x.iter().chain(&p).copied().chain([s]).collect();
        assert_near("log_gaus gradient", &got, &fd_gradient(f, &at), FD);
        let dir = direction(7);
        let (_, t) = loops_log_gaus_jvp(&x, &dir[0..3], &p, &dir[3..6], s, dir[6]);
        assert!((t - dot(&got, &dir)).abs() < 1e-10 * t.abs().max(1.0));
    }
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let (v, dx, dy) = loops_fn43_grad(&x, 5.0);
    assert_eq!(v, loops_fn43(&x, 5.0));
    assert_near(
        "loops_fn43",
        &dx,
        &[-1.0, -0.25, -1.0 / 9.0, 0.0, 0.0],
        EXACT,
    );
    assert_eq!(dy, 0.0);
}

#[test]
fn gradient_loops_layer_f32() {
    let w = [3.0_f32, 4.0, 5.0, 6.0];
    let (v, dw, dx) = layer_forward_grad(&w, 2.0);
    assert_eq!(v, layer_forward(&w, 2.0));
    assert_eq!((dw, dx), (vec![1.0_f32; 4], 1.0_f32));
    let (_, t) = layer_forward_jvp(&w, &[1.0, 2.0, 3.0, 4.0], 2.0, 0.5);
    assert_eq!(t, 10.5);
}

// ---------------------------------------------------------------------------------------------
// Gradient/Gradients.C, Gradient/UnaryMinus.C, Gradient/TestTypeConversion.C
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn f_add1(x: f64, y: f64) -> f64 {
    x + y
}

#[differentiate(reverse, forward, hessian)]
fn f_add3(x: f64, y: f64) -> f64 {
    3.0 * x + 4.0 * y * 4.0
}

#[differentiate(reverse, forward, hessian)]
fn f_sub2(x: f64, y: f64) -> f64 {
    3.0 * x - 4.0 * y
}

#[differentiate(reverse, forward, hessian)]
fn f_mult2(x: f64, y: f64) -> f64 {
    3.0 * x * 4.0 * y
}

#[differentiate(reverse, forward, hessian)]
fn f_div2(x: f64, y: f64) -> f64 {
    3.0 * x / (4.0 * y)
}

#[differentiate(reverse, forward, hessian)]
fn f_c(x: f64, y: f64) -> f64 {
    -x * y + (x + y) * (x / y) - x * x
}

#[differentiate(reverse, forward, hessian)]
fn f_rosenbrock(x: f64, y: f64) -> f64 {
    (x - 1.0) * (x - 1.0) + 100.0 * (y - x * x) * (y - x * x)
}

#[differentiate(reverse, forward, hessian)]
fn f_cond1(x: f64, y: f64) -> f64 {
    if x > y { x } else { y }
}

#[differentiate(reverse, forward, hessian)]
fn f_cond2(x: f64, y: f64) -> f64 {
    if x > y {
        x
    } else if y > 0.0 {
        y
    } else {
        -y
    }
}

#[differentiate(reverse, forward, hessian)]
fn f_cond3(x: f64, c: f64) -> f64 {
    if c > 0.0 { x + c } else { x - c }
}

#[differentiate(reverse, forward, hessian)]
fn f_cond4(x: f64, mut y: f64) -> f64 {
    let i = 0;
    let arr = [x, y];
    if x > 0.0 {
        y = arr[i] * x;
    }
    y
}

#[differentiate(reverse, forward, hessian)]
fn f_if2(x: f64, y: f64) -> f64 {
    if x > y {
        return x;
    }
    if y > 0.0 {
        return y;
    }
    -y
}

/// `struct S { c1, c2; f(x, y) }`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct S {
    c1: f64,
    c2: f64,
}

impl S {
    #[differentiate(reverse, forward, hessian)]
    fn f(&self, x: f64, y: f64) -> f64 {
        self.c1 * x + self.c2 * y
    }

    #[differentiate(reverse, forward, hessian, wrt(self, x, y))]
    fn f_all(&self, x: f64, y: f64) -> f64 {
        self.c1 * x + self.c2 * y
    }
}

/// Clad gives this a custom pullback; here a hand-written `sum_of_powers_grad` and `_jvp`.
fn sum_of_powers(x: f64, y: f64, z: f64, p: f64) -> f64 {
    x.powf(p) + y.powf(p) + z.powf(p)
}

fn sum_of_powers_grad(x: f64, y: f64, z: f64, p: f64) -> (f64, f64, f64, f64, f64) {
    let d = |v: f64| p * v.powf(p - 1.0);
    let dp = x.powf(p) * x.ln() + y.powf(p) * y.ln() + z.powf(p) * z.ln();
    (sum_of_powers(x, y, z, p), d(x), d(y), d(z), dp)
}

#[allow(clippy::too_many_arguments)]
fn sum_of_powers_jvp(
    x: f64,
    d_x: f64,
    y: f64,
    d_y: f64,
    z: f64,
    d_z: f64,
    p: f64,
    d_p: f64,
) -> (f64, f64) {
    let (v, a, b, c, e) = sum_of_powers_grad(x, y, z, p);
    (v, a * d_x + b * d_y + c * d_z + e * d_p)
}

/// By hand: the value, the gradient and the Hessian-vector product.
#[allow(clippy::too_many_arguments)]
fn sum_of_powers_hvp(
    x: f64,
    v_x: f64,
    y: f64,
    v_y: f64,
    z: f64,
    v_z: f64,
    p: f64,
    v_p: f64,
) -> (f64, f64, f64, f64, f64, f64, f64, f64, f64) {
    let (value, dx, dy, dz, dp) = sum_of_powers_grad(x, y, z, p);
    let second = |v: f64| p * (p - 1.0) * v.powf(p - 2.0);
    let mixed = |v: f64| v.powf(p - 1.0) * (1.0 + p * v.ln());
    let hpp = x.powf(p) * x.ln().powi(2) + y.powf(p) * y.ln().powi(2) + z.powf(p) * z.ln().powi(2);
    (
        value,
        dx,
        dy,
        dz,
        dp,
        second(x) * v_x + mixed(x) * v_p,
        second(y) * v_y + mixed(y) * v_p,
        second(z) * v_z + mixed(z) * v_p,
        mixed(x) * v_x + mixed(y) * v_y + mixed(z) * v_z + hpp * v_p,
    )
}

#[differentiate(reverse, forward, hessian)]
fn f_norm(x: f64, y: f64, z: f64, d: f64) -> f64 {
    sum_of_powers(x, y, z, d).powf(1.0 / d)
}

#[differentiate(reverse, forward, hessian)]
fn f_pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}

#[differentiate(reverse, forward, hessian)]
fn f_sin(x: f64, y: f64) -> f64 {
    (x.sin() + y.sin()) * (x + y)
}

/// `unsigned f_types(int x, float y, double z)`: an `f32` and an `f64` parameter.
#[differentiate(reverse, forward, hessian)]
fn f_types(x: i32, y: f32, z: f64) -> f64 {
    f64::from(x) + f64::from(y) + z
}

#[differentiate(reverse, forward, hessian)]
fn f_decls1(x: f64, y: f64) -> f64 {
    let a = 3.0 * x;
    let b = 5.0 * y;
    let c = a + b;
    2.0 * c
}

#[differentiate(reverse, forward, hessian)]
fn f_decls2(x: f64, y: f64) -> f64 {
    let a = x * x;
    let b = x * y;
    let c = y * y;
    a + 2.0 * b + c
}

#[differentiate(reverse, forward, hessian)]
fn f_decls3(x: f64, _y: f64) -> f64 {
    let a = 3.0 * x;
    if x > 1.0 {
        return 2.0 * a;
    } else if x < -1.0 {
        return -2.0 * a;
    }
    a * a
}

#[differentiate(reverse, forward, hessian)]
fn f_issue138(x: f64, y: f64) -> f64 {
    x * x * x * x + y * y * y * y
}

#[differentiate(reverse, forward, hessian)]
fn f_const_reference(i: f64, _j: f64) -> f64 {
    let a = i;
    let ar = &a;
    2.0 * *ar
}

/// A running sum over a copy of an `f32` slice.
#[differentiate(reverse, forward, hessian)]
fn running_sum(p: &[f32]) -> f32 {
    let mut q = p.to_vec();
    for i in 1..q.len() {
        q[i] += q[i - 1];
    }
    q[q.len() - 1]
}

#[differentiate(reverse, forward, hessian)]
fn fn_increment_in_return(i: f64, _j: f64) -> f64 {
    let temp = i;
    (i + 1.0) * temp
}

#[differentiate(reverse, forward, hessian)]
fn fn_div(x: f64) -> f64 {
    -0.5 / x
}

#[differentiate(reverse, forward, hessian)]
fn fn_const_cond_op(x: f64) -> f64 {
    x + if x > 0.0 { 1.0 } else { 0.0 }
}

#[differentiate(reverse, forward, hessian)]
fn f_mult3(mut i: f64, j: f64) -> f64 {
    i = (i + j) * if i < 10.0 { i } else { j };
    i
}

#[differentiate(reverse, forward, hessian)]
fn f_const_denom(x: f64, y: f64) -> f64 {
    const M: f64 = 0.5;
    x * y / M
}

#[differentiate(reverse, forward, hessian)]
fn f_infinity(x: f64, y: f64) -> f64 {
    if x < f64::INFINITY {
        return y;
    }
    x + y
}

#[differentiate(reverse, forward, hessian)]
fn unary_f1(x: f64) -> f64 {
    let minus_one = -1.0;
    minus_one * -(-(-x))
}

#[differentiate(reverse, forward, hessian)]
fn unary_f2(x: f64, y: f64) -> f64 {
    -2.0 * -(-(-x)) * -y - 1.0 * (-y) * (-(-x))
}

#[differentiate(reverse, forward, hessian)]
fn type_conversion(z: f32, a: i32) -> f32 {
    let mut z = z;
    for _ in 1..a {
        z *= a as f32;
    }
    z
}

#[test]
fn gradient_gradients() {
    for (name, f, g, j) in [
        (
            "f_add1",
            f_add1 as fn(f64, f64) -> f64,
            f_add1_grad as Grad2,
            f_add1_jvp as Jvp2,
        ),
        ("f_add3", f_add3, f_add3_grad, f_add3_jvp),
        ("f_sub2", f_sub2, f_sub2_grad, f_sub2_jvp),
        ("f_mult2", f_mult2, f_mult2_grad, f_mult2_jvp),
        ("f_div2", f_div2, f_div2_grad, f_div2_jvp),
        ("f_c", f_c, f_c_grad, f_c_jvp),
        (
            "f_rosenbrock",
            f_rosenbrock,
            f_rosenbrock_grad,
            f_rosenbrock_jvp,
        ),
        ("f_cond1", f_cond1, f_cond1_grad, f_cond1_jvp),
        ("f_cond2", f_cond2, f_cond2_grad, f_cond2_jvp),
        ("f_cond3", f_cond3, f_cond3_grad, f_cond3_jvp),
        ("f_cond4", f_cond4, f_cond4_grad, f_cond4_jvp),
        ("f_if2", f_if2, f_if2_grad, f_if2_jvp),
        ("f_sin", f_sin, f_sin_grad, f_sin_jvp),
        ("f_decls1", f_decls1, f_decls1_grad, f_decls1_jvp),
        ("f_decls2", f_decls2, f_decls2_grad, f_decls2_jvp),
        ("f_decls3", f_decls3, f_decls3_grad, f_decls3_jvp),
        ("f_issue138", f_issue138, f_issue138_grad, f_issue138_jvp),
        (
            "f_const_reference",
            f_const_reference,
            f_const_reference_grad,
            f_const_reference_jvp,
        ),
        (
            "fn_increment_in_return",
            fn_increment_in_return,
            fn_increment_in_return_grad,
            fn_increment_in_return_jvp,
        ),
        ("f_mult3", f_mult3, f_mult3_grad, f_mult3_jvp),
        (
            "f_const_denom",
            f_const_denom,
            f_const_denom_grad,
            f_const_denom_jvp,
        ),
        ("f_infinity", f_infinity, f_infinity_grad, f_infinity_jvp),
        ("unary_f2", unary_f2, unary_f2_grad, unary_f2_jvp),
    ] {
        scalar2(name, &P2, f, g, j);
    }
    // Clad's points.
    assert_eq!(f_cond4_grad(3.0, -1.0), (9.0, 6.0, 0.0));
    assert_eq!(f_if2_grad(-5.0, -4.0), (4.0, 0.0, -1.0));
    scalar2(
        "f_decls3",
        &[[3.0, 0.0], [-3.0, 0.0], [0.5, 0.0]],
        f_decls3,
        f_decls3_grad,
        f_decls3_jvp,
    );
    scalar2(
        "f_mult3",
        &[[3.0, 5.0], [12.0, 5.0]],
        f_mult3,
        f_mult3_grad,
        f_mult3_jvp,
    );
    scalar1("fn_div", &[2.0, -0.3], fn_div, fn_div_grad, fn_div_jvp);
    scalar1(
        "fn_const_cond_op",
        &[2.0, -0.3],
        fn_const_cond_op,
        fn_const_cond_op_grad,
        fn_const_cond_op_jvp,
    );
    scalar1(
        "unary_f1",
        &[5.0, -0.3],
        unary_f1,
        unary_f1_grad,
        unary_f1_jvp,
    );
    let s = S { c1: 1.5, c2: -0.25 };
    let (v, dx, dy) = s.f_grad(0.3, 0.8);
    assert_eq!((v, dx, dy), (s.f(0.3, 0.8), 1.5, -0.25));
    let (_, ds, dx, dy) = s.f_all_grad(0.3, 0.8);
    assert_eq!((ds, dx, dy), (S { c1: 0.3, c2: 0.8 }, 1.5, -0.25));
    let (_, t) = s.f_all_jvp(&S { c1: 1.0, c2: 2.0 }, 0.3, 0.5, 0.8, -1.0);
    assert!((t - (0.3 + 1.6 + 0.75 + 0.25)).abs() < 1e-15);
    for p in [[1.2, 0.7, 2.0, 2.5], [0.4, 1.1, 0.9, 3.0]] {
        let f = |q: &[f64]| f_norm(q[0], q[1], q[2], q[3]);
        let (v, a, b, c, d) = f_norm_grad(p[0], p[1], p[2], p[3]);
        same_value("f_norm", v, f(&p));
        assert_near("f_norm gradient", &[a, b, c, d], &fd_gradient(f, &p), FD);
        let dir = direction(4);
        let (_, t) = f_norm_jvp(p[0], dir[0], p[1], dir[1], p[2], dir[2], p[3], dir[3]);
        assert!((t - dot(&[a, b, c, d], &dir)).abs() < 1e-10);
        // Second order through the hand-written `sum_of_powers_hvp`.
        let (_, _, _, _, _, hess) = f_norm_hessian(p[0], p[1], p[2], p[3]);
        let grad = |q: &[f64]| {
            let (_, a, b, c, d) = f_norm_grad(q[0], q[1], q[2], q[3]);
            vec![a, b, c, d]
        };
        check_hessian("f_norm hessian", hess.as_flattened(), grad, &p);
    }
    scalar2(
        "f_pow",
        &[[1.3, 0.7], [0.45, 2.1], [2.0, -1.5]],
        f_pow,
        f_pow_grad,
        f_pow_jvp,
    );
    hessian2(
        "f_pow",
        &[[1.3, 0.7], [0.45, 2.1]],
        f_pow_grad,
        f_pow_hessian,
        f_pow_hvp,
    );
    hessian2(
        "f_rosenbrock",
        &P2,
        f_rosenbrock_grad,
        f_rosenbrock_hessian,
        f_rosenbrock_hvp,
    );
    hessian2(
        "f_decls2",
        &P2,
        f_decls2_grad,
        f_decls2_hessian,
        f_decls2_hvp,
    );
    for p in [[2.0, 0.5, -1.25], [-1.0, 3.0, 0.75]] {
        let (v, dy, dz) = f_types_grad(p[0] as i32, p[1] as f32, p[2]);
        assert_eq!(
            (v, dy, dz),
            (f_types(p[0] as i32, p[1] as f32, p[2]), 1.0_f32, 1.0)
        );
        let (_, t) = f_types_jvp(p[0] as i32, p[1] as f32, 2.0, p[2], 3.0);
        assert_eq!(t, 5.0);
    }
    let p = [1.0_f32, 2.0, 3.0, 4.0];
    let (v, d) = running_sum_grad(&p);
    assert_eq!((v, d), (10.0, vec![1.0_f32; 4]));
    assert_eq!(running_sum_jvp(&p, &[1.0, 0.5, 0.25, 0.125]), (10.0, 1.875));
    // Clad: {9, 24} at (4, 3) for ∂/∂z and (as an int) ∂/∂a; here `a` is a constant.
    assert_eq!(type_conversion_grad(4.0, 3), (36.0, 9.0));
    assert_eq!(type_conversion_jvp(4.0, 1.0, 3), (36.0, 9.0));
}

// ---------------------------------------------------------------------------------------------
// Gradient/Assignments.C, FirstDerivative/CompoundAssignments.C
// ---------------------------------------------------------------------------------------------

/// max(x, y).
#[differentiate(reverse, forward, hessian)]
fn assign_f2(mut x: f64, y: f64) -> f64 {
    if x < y {
        x = y;
    }
    x
}

/// x⁴.
#[differentiate(reverse, forward, hessian)]
fn assign_f3(mut x: f64, _y: f64) -> f64 {
    x = x * x;
    let y = x * x;
    x = y;
    x
}

#[differentiate(reverse, forward, hessian)]
fn assign_f5(x: f64, y: f64) -> f64 {
    let mut t = x * x;
    if x < 0.0 {
        t = -t;
        return t;
    }
    if y < 0.0 {
        t = -t;
    }
    t
}

/// x + 1, through increments and compound assignments to a local array's element.
#[differentiate(reverse, forward, hessian)]
fn assign_f7(x: f64, _y: f64) -> f64 {
    let mut t = [1.0, x, x * x];
    t[0] += 1.0;
    t[0] -= 1.0;
    t[0] += 1.0;
    t[0] -= 1.0;
    t[0] = x;
    t[0] += t[1];
    t[0] *= t[1];
    t[0] /= t[1];
    t[0] -= t[1];
    t[0] += 1.0;
    t[0]
}

/// y².
#[differentiate(reverse, forward, hessian)]
fn assign_f8(x: f64, mut y: f64) -> f64 {
    let mut t = [1.0, x, y, 1.0];
    t[1] = t[2];
    t[0] = t[1];
    y *= t[0];
    t[3] = y;
    t[3]
}

/// x² y.
#[differentiate(reverse, forward, hessian)]
fn assign_f9(x: f64, y: f64) -> f64 {
    let mut t = x;
    t *= x;
    t *= y;
    t
}

/// max(x, y) · y.
#[differentiate(reverse, forward, hessian)]
fn assign_f12(x: f64, y: f64) -> f64 {
    let mut t = if x > y { x } else { y };
    t *= y;
    t
}

/// x³.
#[differentiate(reverse, forward, hessian)]
fn assign_f13(x: f64, mut y: f64) -> f64 {
    y *= 0.0;
    y += x;
    let t = x * y;
    t * y
}

/// 16 i², through a reference in C++.
#[differentiate(reverse, forward, hessian)]
fn assign_f14(mut i: f64, _j: f64) -> f64 {
    i *= 2.0;
    i += i;
    i *= i;
    i
}

#[differentiate(reverse, forward, hessian)]
fn assign_f15(mut i: f64, mut j: f64) -> f64 {
    let mut b = i * j;
    b *= i;
    b += 2.0 * i;
    i += 3.0 * i;
    j = 3.0 * j * j;
    b + i + j
}

#[differentiate(reverse, forward, hessian)]
fn assign_f16(mut i: f64, j: f64) -> f64 {
    i *= 4.0 * j;
    i
}

/// Only `i` and `j` are differentiated.
#[differentiate(reverse, forward, hessian, wrt(i, j))]
fn assign_f18(i: f64, j: f64, _k: f64) -> f64 {
    let mut k = 2.0 * i + 2.0 * j;
    k += i;
    k
}

#[differentiate(reverse, forward, hessian)]
fn assign_f19(a: f64, b: f64) -> f64 {
    a.mul_add(b, b)
}

#[differentiate(reverse, forward, hessian)]
fn assign_f24(x: f64, y: f64) -> f64 {
    let sum = x + y;
    let zero = 0.0;
    sum + zero * x
}

#[differentiate(reverse, forward, hessian, wrt(y))]
fn const_val(mut y: f64, x: f64) -> f64 {
    let z = y;
    y *= z;
    y * x
}

#[differentiate(reverse, forward, hessian)]
fn assign_f26(x: f64, y: f64) -> f64 {
    let mut l = x;
    l /= y;
    l
}

#[differentiate(reverse, forward, hessian)]
fn assign_f27(mut x: f64, y: f64) -> f64 {
    x *= y + 1.0;
    x
}

/// 0.
#[differentiate(reverse, forward, hessian)]
fn compound_f1(mut x: f64, y: f64) -> f64 {
    x += y;
    x += x;
    x -= y;
    x -= x;
    x
}

/// 1.
#[differentiate(reverse, forward, hessian)]
fn compound_f2(mut x: f64, y: f64) -> f64 {
    x *= y;
    x *= x;
    x /= y;
    x /= x;
    x
}

/// x + y.
#[differentiate(reverse, forward, hessian)]
fn compound_f4(mut x: f64, mut y: f64) -> f64 {
    y += x;
    x = y;
    x
}

/// x, by dividing and multiplying by 2ʸ.
#[differentiate(reverse, forward, hessian)]
fn compound_f5(mut x: f64, y: f64) -> f64 {
    x /= 2.0_f64.powf(y);
    x *= 2.0_f64.powf(y);
    x
}

#[test]
fn gradient_assignments() {
    for (name, f, g, j) in [
        (
            "assign_f2",
            assign_f2 as fn(f64, f64) -> f64,
            assign_f2_grad as Grad2,
            assign_f2_jvp as Jvp2,
        ),
        ("assign_f3", assign_f3, assign_f3_grad, assign_f3_jvp),
        ("assign_f5", assign_f5, assign_f5_grad, assign_f5_jvp),
        ("assign_f7", assign_f7, assign_f7_grad, assign_f7_jvp),
        ("assign_f8", assign_f8, assign_f8_grad, assign_f8_jvp),
        ("assign_f9", assign_f9, assign_f9_grad, assign_f9_jvp),
        ("assign_f12", assign_f12, assign_f12_grad, assign_f12_jvp),
        ("assign_f13", assign_f13, assign_f13_grad, assign_f13_jvp),
        ("assign_f14", assign_f14, assign_f14_grad, assign_f14_jvp),
        ("assign_f15", assign_f15, assign_f15_grad, assign_f15_jvp),
        ("assign_f16", assign_f16, assign_f16_grad, assign_f16_jvp),
        ("assign_f19", assign_f19, assign_f19_grad, assign_f19_jvp),
        ("assign_f24", assign_f24, assign_f24_grad, assign_f24_jvp),
        ("assign_f26", assign_f26, assign_f26_grad, assign_f26_jvp),
        ("assign_f27", assign_f27, assign_f27_grad, assign_f27_jvp),
        (
            "compound_f1",
            compound_f1,
            compound_f1_grad,
            compound_f1_jvp,
        ),
        (
            "compound_f2",
            compound_f2,
            compound_f2_grad,
            compound_f2_jvp,
        ),
        (
            "compound_f4",
            compound_f4,
            compound_f4_grad,
            compound_f4_jvp,
        ),
        (
            "compound_f5",
            compound_f5,
            compound_f5_grad,
            compound_f5_jvp,
        ),
    ] {
        scalar2(name, &P2, f, g, j);
    }
    // Clad's points.
    assert_eq!(assign_f5_grad(-3.0, 4.0), (-9.0, 6.0, 0.0));
    assert_eq!(assign_f5_grad(3.0, -4.0), (-9.0, -6.0, 0.0));
    assert_eq!(assign_f14_grad(3.0, 4.0).1, 96.0);
    assert_eq!(
        assign_f15_grad(3.0, 4.0),
        (assign_f15(3.0, 4.0), 30.0, 33.0)
    );
    hessian2(
        "assign_f19",
        &P2,
        assign_f19_grad,
        assign_f19_hessian,
        assign_f19_hvp,
    );
    for p in [[3.0, 4.0, 5.0], [0.3, -1.2, 2.0]] {
        let (v, di, dj) = assign_f18_grad(p[0], p[1], p[2]);
        assert_eq!((v, di, dj), (assign_f18(p[0], p[1], p[2]), 3.0, 2.0));
        assert_eq!(assign_f18_jvp(p[0], 1.0, p[1], 10.0, p[2]).1, 23.0);
        let (v, dy) = const_val_grad(p[0], p[1]);
        assert_eq!((v, dy), (const_val(p[0], p[1]), 2.0 * p[0] * p[1]));
        assert_eq!(const_val_jvp(p[0], 1.0, p[1]).1, 2.0 * p[0] * p[1]);
    }
}

// ---------------------------------------------------------------------------------------------
// Gradient/Switch.C, FirstDerivative/Switch.C: `switch` as `match`
// ---------------------------------------------------------------------------------------------

/// `case 1:` falls through into `case 2:` and `default:`.
#[differentiate(reverse, forward, hessian)]
fn switch_fn1(i: f64, j: f64, count: i32) -> f64 {
    let mut res = 0.0;
    match count {
        0 => res += i * j,
        1 => {
            res += i * i;
            res += j * j;
            res += i * i * j * j;
        }
        2 => {
            res += j * j;
            res += i * i * j * j;
        }
        _ => res += i * i * j * j,
    }
    res
}

/// A `match` in a `while`, with fall-through arms written out.
#[differentiate(reverse, forward, hessian)]
fn switch_fn3(i: f64, j: f64) -> f64 {
    let mut res = 0.0;
    let mut counter = 2;
    while counter > 0 {
        counter -= 1;
        match counter {
            0 => {
                res += i * i * j * j;
                res += i * i;
            }
            1 => res += i * i,
            2 => {
                res += j * j;
                res += i + j;
            }
            _ => res += i + j,
        }
    }
    res
}

/// A loop inside an arm.
#[differentiate(reverse, forward, hessian)]
fn switch_fn4(i: f64, j: f64, k: i32) -> f64 {
    let mut res = 0.0;
    match k {
        0 => res += i * i * j * j,
        1 => {
            let mut counter = 2;
            while counter > 0 {
                counter -= 1;
                res += i * j;
            }
        }
        _ => {}
    }
    res
}

/// `case 0: case 1: case 2:` as an or-pattern, `case 3: default:` as `_`.
#[allow(clippy::manual_range_patterns)]
#[differentiate(reverse, forward, hessian)]
fn switch_fn7(u: f64, v: f64) -> f64 {
    let mut res = 0.0;
    for i in 0..5 {
        match i {
            0 | 1 | 2 => res += u,
            _ => res += v,
        }
    }
    res
}

/// The same with a range pattern and a guard.
#[differentiate(reverse, forward, hessian)]
fn switch_fn7_ranges(u: f64, v: f64) -> f64 {
    let mut res = 0.0;
    for i in 0..6 {
        match i {
            0..=2 => res += u,
            n if n % 2 == 1 => res += v * f64::from(n),
            _ => res -= u * v,
        }
    }
    res
}

/// Each arm returns.
#[differentiate(reverse, forward, hessian)]
fn switch_return(x: f64, y: f64, k: i32) -> f64 {
    match k {
        0 => return x * x,
        1 => return x * y,
        _ => {}
    }
    y * y
}

/// `enum Op` as an integer code: the `match` gives the value.
#[differentiate(reverse, forward, hessian)]
fn switch_op(x: f64, y: f64, op: u8) -> f64 {
    match op {
        0 => x + y,
        1 => x - y,
        2 => x * y,
        _ => x / y,
    }
}

/// FirstDerivative/Switch.C `fn1`, the `match` giving a pair.
#[differentiate(reverse, forward, hessian)]
fn switch_choice(i: f64, j: f64, choice: i32) -> f64 {
    let c = i + j;
    let (a, b) = match choice {
        1 => {
            let a = i * i;
            (a, a / (a * j))
        }
        2 => {
            let a = i * j;
            (a, a / (a + i))
        }
        3 => {
            let a = j * j;
            (a, a / (a * i))
        }
        _ => (i * i, j * j),
    };
    a + b + c
}

/// FirstDerivative/Switch.C `fn4`: nested `match`es.
#[differentiate(reverse, forward, hessian)]
fn switch_nested(i: f64, j: f64, choice: i32, inner: i32) -> f64 {
    let (a, b) = match choice {
        0 => (
            i + j,
            match inner {
                0 => i * i,
                1 => i * j,
                _ => j * j,
            },
        ),
        1 => (i * i, i * i / j),
        _ => (
            i * j,
            match inner {
                0 => i * i,
                1 => i * j,
                _ => j * j,
            },
        ),
    };
    a + b
}

#[test]
fn gradient_switch() {
    for k in 0..4 {
        let p = [[3.0, 5.0], [0.45, -2.1]];
        for q in p {
            let f = |x: &[f64]| switch_fn1(x[0], x[1], k);
            check_point(
                "switch_fn1",
                &q,
                &f,
                &|x| {
                    let (v, a, b) = switch_fn1_grad(x[0], x[1], k);
                    (v, vec![a, b])
                },
                &|x, d| switch_fn1_jvp(x[0], d[0], x[1], d[1], k),
            );
            check_point(
                "switch_fn4",
                &q,
                &|x| switch_fn4(x[0], x[1], k),
                &|x| {
                    let (v, a, b) = switch_fn4_grad(x[0], x[1], k);
                    (v, vec![a, b])
                },
                &|x, d| switch_fn4_jvp(x[0], d[0], x[1], d[1], k),
            );
            check_point(
                "switch_return",
                &q,
                &|x| switch_return(x[0], x[1], k),
                &|x| {
                    let (v, a, b) = switch_return_grad(x[0], x[1], k);
                    (v, vec![a, b])
                },
                &|x, d| switch_return_jvp(x[0], d[0], x[1], d[1], k),
            );
            let op = k as u8;
            check_point(
                "switch_op",
                &q,
                &|x| switch_op(x[0], x[1], op),
                &|x| {
                    let (v, a, b) = switch_op_grad(x[0], x[1], op);
                    (v, vec![a, b])
                },
                &|x, d| switch_op_jvp(x[0], d[0], x[1], d[1], op),
            );
            check_point(
                "switch_choice",
                &q,
                &|x| switch_choice(x[0], x[1], k),
                &|x| {
                    let (v, a, b) = switch_choice_grad(x[0], x[1], k);
                    (v, vec![a, b])
                },
                &|x, d| switch_choice_jvp(x[0], d[0], x[1], d[1], k),
            );
            for inner in 0..3 {
                check_point(
                    "switch_nested",
                    &q,
                    &|x| switch_nested(x[0], x[1], k, inner),
                    &|x| {
                        let (v, a, b) = switch_nested_grad(x[0], x[1], k, inner);
                        (v, vec![a, b])
                    },
                    &|x, d| switch_nested_jvp(x[0], d[0], x[1], d[1], k, inner),
                );
            }
        }
    }
    // Clad's points.
    assert_eq!(switch_fn1_grad(3.0, 5.0, 1).1, 156.0);
    assert_eq!(switch_fn1_grad(3.0, 5.0, 1).2, 100.0);
    assert_eq!(
        switch_fn3_grad(3.0, 5.0),
        (switch_fn3(3.0, 5.0), 162.0, 90.0)
    );
    assert_eq!(switch_fn7_grad(3.0, 5.0), (19.0, 3.0, 2.0));
    scalar2(
        "switch_fn3",
        &P2,
        switch_fn3,
        switch_fn3_grad,
        switch_fn3_jvp,
    );
    scalar2(
        "switch_fn7",
        &P2,
        switch_fn7,
        switch_fn7_grad,
        switch_fn7_jvp,
    );
    scalar2(
        "switch_fn7_ranges",
        &P2,
        switch_fn7_ranges,
        switch_fn7_ranges_grad,
        switch_fn7_ranges_jvp,
    );
}

// ---------------------------------------------------------------------------------------------
// Gradient/EarlyReturns.C
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn single_early(x: f64, y: f64) -> f64 {
    if x > y {
        return x * x;
    }
    x * y
}

#[differentiate(reverse, forward, hessian)]
fn multi_early(x: f64, y: f64) -> f64 {
    if x > 10.0 {
        return x;
    }
    if y > 10.0 {
        return y * y;
    }
    x * y
}

#[differentiate(reverse, forward, hessian)]
fn loop_early(x: f64, y: f64) -> f64 {
    let mut s = 0.0;
    for _ in 0..5 {
        s += x * y;
        if s > 20.0 {
            return s;
        }
    }
    s
}

#[differentiate(reverse, forward, hessian)]
fn mid_early(x: f64, y: f64) -> f64 {
    let a = x * y;
    let b = a + x;
    if b > 50.0 {
        return a * b;
    }
    b * y
}

#[differentiate(reverse, forward, hessian)]
fn nested_early_return(mut x: f64, y: f64) -> f64 {
    if x > 0.0 {
        x *= y;
    }
    if x < 0.0 {
        return 0.0;
    }
    x
}

#[differentiate(reverse, forward, hessian)]
fn decl_after_early(x: f64, y: f64) -> f64 {
    if y == 0.0 {
        return 1.0;
    }
    let n = y;
    let mut a = n + x;
    let (b, c) = (n, 2.0 * x);
    a *= b;
    a + c
}

#[differentiate(reverse, forward, hessian)]
fn ref_after_early(x: f64, y: f64) -> f64 {
    if y == 0.0 {
        return 1.0;
    }
    let a = x * y;
    let r = &a;
    let c = r * r;
    c * c
}

#[test]
fn gradient_early_returns() {
    let pts = [
        [5.0, 3.0],
        [3.0, 5.0],
        [20.5, 1.0],
        [1.0, 20.5],
        [2.0, 3.0],
        [1.0, 1.05],
        [8.0, 7.0],
        [6.0, 7.0],
        [-5.0, 3.0],
        [0.4, -1.3],
    ];
    for (name, f, g, j) in [
        (
            "single_early",
            single_early as fn(f64, f64) -> f64,
            single_early_grad as Grad2,
            single_early_jvp as Jvp2,
        ),
        (
            "multi_early",
            multi_early,
            multi_early_grad,
            multi_early_jvp,
        ),
        ("loop_early", loop_early, loop_early_grad, loop_early_jvp),
        ("mid_early", mid_early, mid_early_grad, mid_early_jvp),
        (
            "nested_early_return",
            nested_early_return,
            nested_early_return_grad,
            nested_early_return_jvp,
        ),
        (
            "decl_after_early",
            decl_after_early,
            decl_after_early_grad,
            decl_after_early_jvp,
        ),
        (
            "ref_after_early",
            ref_after_early,
            ref_after_early_grad,
            ref_after_early_jvp,
        ),
    ] {
        scalar2(name, &pts, f, g, j);
    }
    assert_eq!(loop_early_grad(2.0, 3.0), (24.0, 12.0, 8.0));
    assert_eq!(
        mid_early_grad(8.0, 7.0),
        (mid_early(8.0, 7.0), 896.0, 960.0)
    );
    assert_eq!(decl_after_early_grad(3.0, 0.0), (1.0, 0.0, 0.0));
    assert_eq!(ref_after_early_grad(1.0, 2.0), (16.0, 64.0, 32.0));
}

// ---------------------------------------------------------------------------------------------
// Gradient/FunctionCalls.C, FirstDerivative/FunctionCallsWithResults.C, ForwardMode/VectorMode.C
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn custom_max(a: f64, b: f64) -> f64 {
    if a > b { a } else { b }
}

#[differentiate(reverse, forward, hessian)]
fn calls_fn9(x: f64, y: f64) -> f64 {
    custom_max(x * y, y)
}

#[differentiate(reverse, forward, hessian)]
fn calls_fn10(x: f64, y: f64) -> f64 {
    let mut out = x;
    out = out.max(0.0);
    out = out.min(10.0);
    out = out.clamp(3.0, 7.0);
    out * y
}

#[differentiate(reverse, forward, hessian)]
fn multiply(a: &[f64], b: &[f64]) -> f64 {
    a[0] * b[0]
}

/// A sub-slice of a local copy of `w` passed on.
#[differentiate(reverse, forward, hessian, wrt(x))]
fn calls_fn13(x: &[f64], w: &[f64]) -> f64 {
    let mut w_copy = [0.0; 2];
    w_copy.copy_from_slice(&w[..2]);
    multiply(x, &w_copy[1..])
}

#[differentiate(reverse, forward, hessian)]
fn add_first(a: f64, b: &[f64]) -> f64 {
    a + b[0]
}

/// `x = add(x, y); x = add(x, &x);`.
#[differentiate(reverse, forward, hessian, wrt(x))]
fn calls_fn17(mut x: f64, y: &[f64]) -> f64 {
    x = add_first(x, y);
    x = add_first(x, &[x]);
    x
}

#[differentiate(reverse, forward, hessian)]
fn weighted_sum(x: &[f64], w: &[f64]) -> f64 {
    w[0] * x[0] + w[1] * x[1]
}

#[differentiate(reverse, forward, hessian, wrt(x))]
fn calls_fn20(x: &[f64], w: &[f64]) -> f64 {
    let aux_w = &w[1..];
    weighted_sum(x, aux_w)
}

#[differentiate(reverse, forward, hessian)]
fn identity_with_flag(x: f64, _b: bool) -> f64 {
    x
}

#[differentiate(reverse, forward, hessian)]
fn calls_fn23(x: f64) -> f64 {
    identity_with_flag(x, true)
}

/// `void mult(double* x, double y)`: scales a buffer in place.
#[differentiate(reverse, forward, hessian)]
fn mult(x: &mut [f64], y: f64) {
    for i in 0..3 {
        x[i] *= y;
    }
}

/// u v + u.
#[differentiate(reverse, forward, hessian)]
fn calls_fn27(u: f64, v: f64) -> f64 {
    let mut arr = [u, v, 1.0];
    let sum = arr[0] * arr[1] * arr[2];
    mult(&mut arr, u);
    sum + arr[2]
}

/// Passes its out-parameter on to `mult` twice.
#[differentiate(reverse, forward, hessian)]
fn nested_mult(x: &mut [f64], y: f64) {
    mult(x, y);
    mult(x, 3.0);
}

/// 3 u v + 2.
#[differentiate(reverse, forward, hessian)]
fn calls_fn28(u: f64, v: f64) -> f64 {
    let mut arr = [u, v, 1.0];
    nested_mult(&mut arr, u);
    arr[1] + 2.0
}

#[differentiate(reverse, forward, hessian)]
fn square_first(x: &mut [f64]) {
    x[0] = x[0] * x[0];
}

#[differentiate(reverse, forward, hessian)]
fn calls_fn29(x: &[f64]) -> f64 {
    let mut y = x.to_vec();
    square_first(&mut y);
    y[0] * y[1]
}

#[differentiate(reverse, forward, hessian)]
fn fast_interp(coefs: &[f64], sum: &[f64], diff: &[f64], out: &mut [f64]) {
    let x = coefs[0];
    out[0] += x * (diff[0] + x * sum[0]);
}

/// 4 p + 3 p².
#[differentiate(reverse, forward, hessian)]
fn calls_fn32(params: &[f64]) -> f64 {
    let t3 = [params[0]];
    let mut t2 = [0.0];
    let xl_arr = [3.0, 4.0];
    fast_interp(&t3, &xl_arr, &xl_arr[1..], &mut t2);
    t2[0]
}

#[differentiate(reverse, forward, hessian)]
fn identity(x: f64) -> f64 {
    x
}

/// 3x + y.
#[differentiate(reverse, forward, hessian)]
fn fn_id_loop(x: f64, y: f64) -> f64 {
    let a = x;
    let mut s = 0.0;
    for _ in 0..3 {
        s += identity(a);
    }
    s + y
}

#[differentiate(reverse, forward, hessian)]
fn sum_of_squares(u: f64, v: f64) -> f64 {
    u * u + v * v
}

#[differentiate(reverse, forward, hessian)]
fn fcr_fn1(i: f64, j: f64) -> f64 {
    let mut res = sum_of_squares(i, j);
    res += sum_of_squares(j, i);
    res
}

#[differentiate(reverse, forward, hessian)]
fn sum_of_pairwise_product(u: f64, v: f64, w: f64) -> f64 {
    u * v + v * w + w * u
}

#[differentiate(reverse, forward, hessian)]
fn fcr_fn2(i: f64, j: f64) -> f64 {
    let mut res = fcr_fn1(i, j);
    res += sum_of_pairwise_product(res, i, j);
    res
}

#[differentiate(reverse, forward, hessian)]
fn helper_fn(i: f64, j: f64) -> f64 {
    i + j
}

#[differentiate(reverse, forward, hessian)]
fn fcr_fn7(i: f64, j: f64) -> f64 {
    helper_fn(helper_fn(7.0 * i, 9.0 * j), i + j)
}

#[differentiate(reverse, forward, hessian)]
fn modify_arr(arr: &mut [f64], val: f64) {
    for i in 0..arr.len() {
        arr[i] = val;
    }
}

#[differentiate(reverse, forward, hessian)]
fn sum_slice(arr: &[f64]) -> f64 {
    let mut val = 0.0;
    for i in 0..arr.len() {
        val += arr[i];
    }
    val
}

#[differentiate(reverse, forward, hessian)]
fn check_and_return(x: f64, is_a: bool) -> f64 {
    if is_a {
        return x;
    }
    1.0
}

/// 5 i j tanh(1).
#[differentiate(reverse, forward, hessian)]
fn fcr_fn8(i: f64, j: f64) -> f64 {
    let mut arr = [0.0; 5];
    modify_arr(&mut arr, i * j);
    check_and_return(sum_slice(&arr), true) * 1.0_f64.tanh()
}

#[differentiate(reverse, forward, hessian)]
fn vm_f3(x: f64, mut y: f64) -> f64 {
    if y < 0.0 {
        y = -y;
    }
    y += 1.0;
    x * y
}

#[differentiate(reverse, forward, hessian)]
fn square(x: f64) -> f64 {
    x * x
}

#[differentiate(reverse, forward, hessian)]
fn weighted_array_squared_sum(arr: &[f64], w: f64) -> f64 {
    let mut sum = 0.0;
    for i in 0..arr.len() {
        sum += w * square(arr[i]);
    }
    sum
}

#[differentiate(reverse, forward, hessian)]
fn vm_f7(arr: &[f64], w: f64) -> f64 {
    weighted_array_squared_sum(arr, w)
}

/// `void sum_ref(double& res, int n, const double* arr)`: adds into the buffer.
#[differentiate(reverse, forward, hessian)]
fn sum_ref(res: &mut [f64], arr: &[f64]) {
    for i in 0..arr.len() {
        res[0] += arr[i];
    }
}

#[differentiate(reverse, forward, hessian)]
fn vm_f8(arr: &[f64]) -> f64 {
    let mut res = [0.0];
    sum_ref(&mut res, arr);
    res[0]
}

#[test]
fn gradient_function_calls() {
    for (name, f, g, j) in [
        (
            "calls_fn9",
            calls_fn9 as fn(f64, f64) -> f64,
            calls_fn9_grad as Grad2,
            calls_fn9_jvp as Jvp2,
        ),
        ("calls_fn10", calls_fn10, calls_fn10_grad, calls_fn10_jvp),
        ("calls_fn27", calls_fn27, calls_fn27_grad, calls_fn27_jvp),
        ("calls_fn28", calls_fn28, calls_fn28_grad, calls_fn28_jvp),
        ("fn_id_loop", fn_id_loop, fn_id_loop_grad, fn_id_loop_jvp),
        ("fcr_fn1", fcr_fn1, fcr_fn1_grad, fcr_fn1_jvp),
        ("fcr_fn2", fcr_fn2, fcr_fn2_grad, fcr_fn2_jvp),
        ("fcr_fn7", fcr_fn7, fcr_fn7_grad, fcr_fn7_jvp),
        ("fcr_fn8", fcr_fn8, fcr_fn8_grad, fcr_fn8_jvp),
        ("vm_f3", vm_f3, vm_f3_grad, vm_f3_jvp),
    ] {
        scalar2(name, &P2, f, g, j);
    }
    // Clad's points.
    assert_eq!(calls_fn9_grad(3.0, 5.0), (15.0, 5.0, 3.0));
    scalar2(
        "calls_fn10",
        &[[8.0, 5.0], [5.0, 2.0], [2.0, 5.0], [-1.0, 2.0]],
        calls_fn10,
        calls_fn10_grad,
        calls_fn10_jvp,
    );
    assert_eq!(calls_fn27_grad(2.0, 1.0), (4.0, 2.0, 2.0));
    assert_eq!(calls_fn28_grad(3.0, 5.0), (47.0, 15.0, 9.0));
    assert_eq!(fn_id_loop_grad(2.0, 5.0), (11.0, 3.0, 1.0));
    scalar1(
        "calls_fn23",
        &[3.0, -0.5],
        calls_fn23,
        calls_fn23_grad,
        calls_fn23_jvp,
    );
    hessian2("fcr_fn2", &P2, fcr_fn2_grad, fcr_fn2_hessian, fcr_fn2_hvp);
    let w = [2.0, 3.0];
    assert_eq!(calls_fn13_grad(&[2.0], &w), (6.0, vec![3.0]));
    assert_eq!(calls_fn13_jvp(&[2.0], &[0.5], &w), (6.0, 1.5));
    assert_eq!(calls_fn17_grad(5.0, &[3.0, 2.0]), (16.0, 2.0));
    assert_eq!(calls_fn17_jvp(5.0, 1.0, &[3.0, 2.0]), (16.0, 2.0));
    let (x1, w1) = ([3.0, 5.0], [-1.0, 2.0, 3.0]);
    assert_eq!(calls_fn20_grad(&x1, &w1), (21.0, vec![2.0, 3.0]));
    assert_eq!(calls_fn20_jvp(&x1, &[1.0, -1.0], &w1), (21.0, -1.0));
    slice1(
        "calls_fn29",
        &[&[3.0, 4.0], &[-0.5, 1.5]],
        calls_fn29,
        calls_fn29_grad,
        calls_fn29_jvp,
    );
    assert_eq!(calls_fn29_grad(&[3.0, 4.0]), (36.0, vec![24.0, 9.0]));
    slice1(
        "calls_fn32",
        &[&[3.0], &[-0.7]],
        calls_fn32,
        calls_fn32_grad,
        calls_fn32_jvp,
    );
    assert_eq!(calls_fn32_grad(&[3.0]), (39.0, vec![22.0]));
    slice1(
        "vm_f8",
        &[&[1.0, 2.0, 3.0], &[-0.5]],
        vm_f8,
        vm_f8_grad,
        vm_f8_jvp,
    );
    for (arr, w) in [([1.0, 2.0, 3.0], 2.0), ([0.3, -1.1, 0.8], -0.6)] {
        let f = |q: &[f64]| vm_f7(&q[..3], q[3]);
        let (v, da, dw) = vm_f7_grad(&arr, w);
        same_value("vm_f7", v, vm_f7(&arr, w));
        let mut got = da.clone();
        got.push(dw);
        let at = [arr[0], arr[1], arr[2], w];
        assert_near("vm_f7 gradient", &got, &fd_gradient(f, &at), FD);
        let dir = direction(4);
        let (_, t) = vm_f7_jvp(&arr, &dir[..3], w, dir[3]);
        assert!((t - dot(&got, &dir)).abs() < 1e-10 * t.abs().max(1.0));
        let (_, _, _, hess) = vm_f7_hessian(&arr, w);
        let grad = |q: &[f64]| {
            let (_, mut d, dw) = vm_f7_grad(&q[..3], q[3]);
            d.push(dw);
            d
        };
        check_hessian("vm_f7 hessian", &hess, grad, &at);
    }
}

// ---------------------------------------------------------------------------------------------
// Gradient/UserDefinedTypes.C
// ---------------------------------------------------------------------------------------------

/// `std::pair<double, double>`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Pair {
    first: f64,
    second: f64,
}

#[differentiate(reverse, forward, hessian, wrt(p, i))]
fn udt_fn1(p: Pair, i: f64) -> f64 {
    p.first + 2.0 * p.second + 3.0 * i
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Tangent {
    data: [f64; 5],
}

impl Tangent {
    #[differentiate(reverse, forward, hessian, wrt(self, i, j))]
    fn some_mem_fn(&self, i: f64, j: f64) -> f64 {
        self.data[0] * i + self.data[1] * j + 3.0 * self.data[2] + self.data[3] * self.data[4]
    }

    #[differentiate(reverse, forward, hessian)]
    fn some_mem_fn2(&self, i: f64, j: f64) -> f64 {
        self.data[0] * i + self.data[1] * i * j
    }
}

#[differentiate(reverse, forward, hessian)]
fn sum_data(data: &[f64]) -> f64 {
    let mut res = 0.0;
    for i in 0..5 {
        res += data[i];
    }
    res
}

#[differentiate(reverse, forward, hessian, wrt(t, i))]
fn udt_fn2(t: &Tangent, i: f64) -> f64 {
    let mut res = sum_data(&t.data);
    res += sum_data(&t.data) + i + 2.0 * t.data[0];
    res
}

/// `t` a constant whose method is called.
#[differentiate(reverse, forward, hessian)]
fn udt_fn5(t: &Tangent, i: f64) -> f64 {
    t.some_mem_fn2(i, i)
}

/// `std::complex<double>`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Complex {
    re: f64,
    im: f64,
}

#[differentiate(reverse, forward, hessian, wrt(t, c))]
fn udt_fn9(t: &Tangent, c: Complex) -> f64 {
    let mut res = 0.0;
    for _ in 0..5 {
        res += c.re + 2.0 * c.im;
    }
    res += sum_data(&t.data);
    res
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct SimpleFunctions1 {
    x: f64,
    y: f64,
}

impl SimpleFunctions1 {
    #[differentiate(reverse, forward, hessian)]
    fn mem_fn(&self, i: f64, j: f64) -> f64 {
        (self.x + self.y) * i + i * j
    }
}

#[differentiate(reverse, forward, hessian)]
fn udt_fn17(sf: &SimpleFunctions1, i: f64, j: f64) -> f64 {
    sf.mem_fn(i, j)
}

#[test]
fn gradient_user_defined_types() {
    let p = Pair {
        first: 3.0,
        second: 5.0,
    };
    let (v, dp, di) = udt_fn1_grad(p, 3.0);
    assert_eq!(
        (v, dp, di),
        (
            22.0,
            Pair {
                first: 1.0,
                second: 2.0
            },
            3.0
        )
    );
    assert_eq!(
        udt_fn1_jvp(
            p,
            Pair {
                first: 1.0,
                second: 1.0
            },
            3.0,
            1.0
        )
        .1,
        6.0
    );

    let t = Tangent {
        data: [5.0, 5.0, 5.0, 5.0, 5.0],
    };
    let (v, dt, di, dj) = t.some_mem_fn_grad(3.0, 5.0);
    assert_eq!(v, t.some_mem_fn(3.0, 5.0));
    assert_eq!((dt.data, di, dj), ([3.0, 5.0, 3.0, 5.0, 5.0], 5.0, 5.0));
    let (v, di, dj) = t.some_mem_fn2_grad(3.0, 5.0);
    assert_eq!((v, di, dj), (t.some_mem_fn2(3.0, 5.0), 30.0, 15.0));
    let (v, di) = udt_fn5_grad(&t, 3.0);
    assert_eq!((v, di), (udt_fn5(&t, 3.0), 35.0));
    let (_, _, hess) = udt_fn5_hessian(&t, 3.0);
    assert_eq!(hess, [[10.0]]);

    let t = Tangent {
        data: [0.5, -1.0, 2.0, 0.25, 1.5],
    };
    let (v, dt, di) = udt_fn2_grad(&t, 3.0);
    assert_eq!(v, udt_fn2(&t, 3.0));
    assert_eq!((dt.data, di), ([4.0, 2.0, 2.0, 2.0, 2.0], 1.0));
    let dir = Tangent {
        data: [1.0, 0.0, 0.0, 0.0, 2.0],
    };
    assert_eq!(udt_fn2_jvp(&t, &dir, 3.0, 1.0).1, 4.0 + 4.0 + 1.0);

    let c = Complex { re: 1.5, im: -0.5 };
    let (v, dt, dc) = udt_fn9_grad(&t, c);
    assert_eq!(v, udt_fn9(&t, c));
    assert_eq!((dt.data, dc), ([1.0; 5], Complex { re: 5.0, im: 10.0 }));
    assert_eq!(
        udt_fn9_jvp(&t, &dir, c, Complex { re: 1.0, im: 1.0 }).1,
        3.0 + 15.0
    );

    let sf = SimpleFunctions1 { x: 3.0, y: 5.0 };
    assert_eq!(udt_fn17_grad(&sf, 3.0, 5.0), (39.0, 13.0, 3.0));
    assert_eq!(udt_fn17_jvp(&sf, 3.0, 1.0, 5.0, 1.0), (39.0, 16.0));
}

// ---------------------------------------------------------------------------------------------
// FirstDerivative/BuiltinDerivatives.C, FirstDerivative/Loops.C
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn bd_f4(x: f32, y: f32) -> f32 {
    (x * x).sin() + (y * y).sin()
}

#[differentiate(reverse, forward, hessian)]
fn bd_f6(x: f32) -> f32 {
    (x * x).exp()
}

#[differentiate(reverse, forward, hessian)]
fn bd_f9(x: f32, y: f32) -> f32 {
    x.powf(y)
}

/// `std::pow(float, int)`.
#[differentiate(reverse, forward, hessian)]
fn bd_f10(x: f32, y: i32) -> f64 {
    f64::from(x.powi(y))
}

#[differentiate(reverse, forward, hessian)]
fn bd_f11(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x.powi(2)).powi(2)
}

#[differentiate(reverse, forward, hessian)]
fn bd_f15(y: f64, x: f64) -> f64 {
    y.atan2(x)
}

#[differentiate(reverse, forward, hessian)]
fn bd_f16(x: f32) -> f32 {
    x.acos()
}

#[differentiate(reverse, forward, hessian)]
fn bd_f17(x: f64) -> f64 {
    let y = x.abs();
    2.0 * y
}

#[differentiate(reverse, forward, hessian)]
fn bd_unary(x: f64) -> f64 {
    x.tan()
        + x.cosh()
        + x.sinh()
        + (0.5 * x).asin()
        + x.atan()
        + x.abs().log10()
        + x.abs().log2()
        + x.cbrt()
        + x.exp2()
        + x.exp_m1()
        + x.abs().ln_1p()
        + x.tanh()
        + x.asinh()
        + (x * x + 1.5).acosh()
        + (0.3 * x).atanh()
}

#[differentiate(reverse, forward, hessian)]
fn bd_binary(x: f64, y: f64) -> f64 {
    x.hypot(y) + x % y + x.max(y) + x.min(y) + (x - y).max(0.0)
}

#[differentiate(reverse, forward, hessian)]
fn bd_cbrt(x: f64) -> f64 {
    x.cbrt()
}

#[differentiate(reverse, forward, hessian)]
fn bd_hypot(x: f64, y: f64) -> f64 {
    x.hypot(y)
}

#[differentiate(reverse, forward, hessian)]
fn bd_norm(x: f64, y: f64) -> f64 {
    (x * x + y * y).sqrt()
}

#[differentiate(reverse, forward, hessian)]
fn fd_loops_f1(x: f64, y: i32) -> f64 {
    let mut r = 1.0;
    for _ in 0..y {
        r *= x;
    }
    r
}

/// x^(2^y).
#[differentiate(reverse, forward, hessian)]
fn fd_loops_f2(mut x: f64, y: i32) -> f64 {
    for _ in 0..y {
        x *= x;
    }
    x
}

/// sin(x)^y.
#[differentiate(reverse, forward, hessian)]
fn fd_loops_f4(x: f64, y: i32) -> f64 {
    let mut r = 1.0;
    let mut i = 0;
    while i < y {
        i += 1;
        r *= x.sin();
    }
    r
}

#[differentiate(reverse, forward, hessian)]
fn fd_loops_fn9(i: f64, j: f64) -> f64 {
    let mut counter = 4;
    let mut a = i * j;
    while counter != 0 {
        let num = counter;
        counter -= 1;
        if num == 2 {
            continue;
        }
        a += i * i;
    }
    a
}

#[differentiate(reverse, forward, hessian)]
fn fd_loops_fn10(x: f64, n: usize) -> f64 {
    let mut res = 0.0;
    let mut count = 0;
    loop {
        if count >= n {
            break;
        }
        let y = x;
        if y != 0.0 {
            res += y * y;
        }
        count += 1;
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn fd_loops_fn19(x: f64, y: f64) -> f64 {
    let mut res = 0.0;
    let f = [x * x, 2.0 * x * y, y * y, x, y];
    for v in f {
        if v == x {
            break;
        }
        res += v;
    }
    res
}

#[differentiate(reverse, forward, hessian)]
fn fd_loops_fn21(x: f64, y: f64) -> f64 {
    let coefficients = [4, 7, 3];
    let mut res = 0.0;
    for &c in &coefficients {
        if c % 2 == 0 {
            continue;
        }
        res += x * y * f64::from(c);
    }
    res
}

#[test]
fn first_derivative_builtins_and_loops() {
    // f32 against closed forms.
    for (x, y) in [(0.7_f32, -1.2_f32), (1.3, 0.4)] {
        let (v, dx, dy) = bd_f4_grad(x, y);
        assert_eq!(v, bd_f4(x, y));
        assert!(
            (dx - 2.0 * x * (x * x).cos()).abs() < 1e-6
                && (dy - 2.0 * y * (y * y).cos()).abs() < 1e-6
        );
        assert!((bd_f4_jvp(x, 1.0, y, 0.0).1 - dx).abs() < 1e-6);
        let (_, d) = bd_f6_grad(x);
        assert!((d - 2.0 * x * (x * x).exp()).abs() < 1e-5);
        let (v, dx, dy) = bd_f9_grad(x.abs(), y);
        assert_eq!(v, bd_f9(x.abs(), y));
        let xa = x.abs();
        assert!(
            (dx - y * xa.powf(y - 1.0)).abs() < 1e-5 && (dy - xa.powf(y) * xa.ln()).abs() < 1e-5
        );
        let (v, d) = bd_f10_grad(x, 3);
        assert_eq!((v, d), (bd_f10(x, 3), 3.0 * x * x));
        let (_, d) = bd_f16_grad(x / 2.0);
        assert!((d + 1.0 / (1.0 - x * x / 4.0).sqrt()).abs() < 1e-5);
        assert!((bd_f16_jvp(x / 2.0, 1.0).1 - d).abs() < 1e-6);
    }
    assert_eq!(bd_f9_grad(3.0, 4.0).1, 108.0);
    let (_, a, b) = bd_f15_grad(4.0, 3.0);
    assert_near("bd_f15 at (4, 3)", &[a, b], &[0.12, -0.16], EXACT);
    scalar2("bd_f11", &P2, bd_f11, bd_f11_grad, bd_f11_jvp);
    scalar2("bd_f15", &P2, bd_f15, bd_f15_grad, bd_f15_jvp);
    scalar1("bd_f17", &[2.0, -0.3], bd_f17, bd_f17_grad, bd_f17_jvp);
    assert_eq!(bd_f17_grad(0.0), (0.0, 0.0));
    scalar1(
        "bd_unary",
        &[0.6, -0.45, 1.1],
        bd_unary,
        bd_unary_grad,
        bd_unary_jvp,
    );
    scalar2(
        "bd_binary",
        &[[1.3, -0.7], [0.45, 2.1], [-1.6, 0.95], [5.3, 1.5]],
        bd_binary,
        bd_binary_grad,
        bd_binary_jvp,
    );
    scalar1("bd_cbrt", &[2.0, -0.3], bd_cbrt, bd_cbrt_grad, bd_cbrt_jvp);
    scalar2("bd_hypot", &P2, bd_hypot, bd_hypot_grad, bd_hypot_jvp);
    scalar2("bd_norm", &P2, bd_norm, bd_norm_grad, bd_norm_jvp);
    // Singular points, as the contract says: ∞ where the derivative is infinite, and the zero
    // subgradient at the origin for both spellings of the norm.
    assert_eq!(bd_cbrt_grad(0.0), (0.0, f64::INFINITY));
    assert_eq!(bd_hypot_grad(0.0, 0.0), (0.0, 0.0, 0.0));
    assert_eq!(bd_norm_grad(0.0, 0.0), (0.0, 0.0, 0.0));
    assert_eq!(bd_norm_jvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0));
    assert_eq!(bd_hypot_jvp(0.0, 1.0, 0.0, 1.0), (0.0, 0.0));

    for y in 0..4 {
        for x in [1.3, -0.7] {
            let (v, d) = fd_loops_f1_grad(x, y);
            assert_eq!(v, fd_loops_f1(x, y));
            assert_near("fd_loops_f1", &[d], &[f64::from(y) * x.powi(y - 1)], EXACT);
            assert_near(
                "fd_loops_f1_jvp",
                &[fd_loops_f1_jvp(x, 1.0, y).1],
                &[d],
                EXACT,
            );
            let n = 2_i32.pow(y as u32);
            let (v, d) = fd_loops_f2_grad(x, y);
            assert_eq!(v, fd_loops_f2(x, y));
            assert_near("fd_loops_f2", &[d], &[f64::from(n) * x.powi(n - 1)], 1e-12);
            assert_near(
                "fd_loops_f2_jvp",
                &[fd_loops_f2_jvp(x, 1.0, y).1],
                &[d],
                EXACT,
            );
            let (v, d) = fd_loops_f4_grad(x, y);
            assert_eq!(v, fd_loops_f4(x, y));
            assert_near(
                "fd_loops_f4",
                &[d],
                &[f64::from(y) * x.sin().powi(y - 1) * x.cos()],
                1e-12,
            );
            let (v, d) = fd_loops_fn10_grad(x, y as usize);
            assert_eq!(v, fd_loops_fn10(x, y as usize));
            assert_near("fd_loops_fn10", &[d], &[2.0 * f64::from(y) * x], EXACT);
            assert_near(
                "fd_loops_fn10_jvp",
                &[fd_loops_fn10_jvp(x, 1.0, y as usize).1],
                &[d],
                EXACT,
            );
        }
    }
    scalar2(
        "fd_loops_fn9",
        &P2,
        fd_loops_fn9,
        fd_loops_fn9_grad,
        fd_loops_fn9_jvp,
    );
    scalar2(
        "fd_loops_fn19",
        &P2,
        fd_loops_fn19,
        fd_loops_fn19_grad,
        fd_loops_fn19_jvp,
    );
    scalar2(
        "fd_loops_fn21",
        &P2,
        fd_loops_fn21,
        fd_loops_fn21_grad,
        fd_loops_fn21_jvp,
    );
}

// ---------------------------------------------------------------------------------------------
// Hessian/*.C
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, hessian)]
fn f_cubed_add1(a: f64, b: f64) -> f64 {
    a * a * a + b * b * b
}

#[differentiate(reverse, hessian)]
fn f_suvat1(u: f64, t: f64) -> f64 {
    (u * t) + ((0.5) * (9.81) * (t * t))
}

#[differentiate(reverse, hessian)]
fn h_cond3(x: f64, c: f64) -> f64 {
    if c > 0.0 {
        (x * x * x) + (c * c * c)
    } else {
        (x * x * x) - (c * c * c)
    }
}

#[differentiate(reverse, forward, hessian)]
fn f_power10(x: f64) -> f64 {
    x * x * x * x * x * x * x * x * x * x
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Experiment {
    x: f64,
    y: f64,
}

impl Experiment {
    #[allow(clippy::unused_self)]
    #[differentiate(reverse, hessian)]
    fn some_method(&self, i: f64, j: f64) -> f64 {
        i * i * j + j * j * i
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Widget {
    x: f64,
    y: f64,
}

impl Widget {
    #[differentiate(reverse, hessian)]
    fn mem_fn_1(&self, i: f64, j: f64) -> f64 {
        self.x * self.y * i * j
    }

    #[differentiate(reverse, hessian)]
    fn mem_fn_2(&self, i: f64, j: f64) -> f64 {
        let a = self.x * i * j;
        let b = 4.0 * a;
        b * self.y * self.y * i
    }

    /// Both weights differentiated too.
    #[differentiate(reverse, hessian, wrt(self, i, j))]
    fn mem_fn_2_all(&self, i: f64, j: f64) -> f64 {
        let a = self.x * i * j;
        let b = 4.0 * a;
        b * self.y * self.y * i
    }
}

#[differentiate(reverse, hessian)]
fn h_arr_f(i: f64, j: [f64; 2]) -> f64 {
    i * j[0] * j[1]
}

#[differentiate(reverse, hessian)]
fn h_arr_g(i: f64, j: [f64; 2]) -> f64 {
    i * (j[0] + j[1])
}

#[differentiate(reverse, hessian)]
fn h_arr_h(arr: [f64; 3], weights: [f64; 3], multiplier: f64) -> f64 {
    let mut weighted_sum = arr[0] * weights[0];
    weighted_sum += arr[1] * weights[1];
    weighted_sum += arr[2] * weights[2];
    weighted_sum *= multiplier;
    weighted_sum * weighted_sum
}

#[differentiate(reverse, hessian)]
fn f0_inner(params: &[f64]) -> f64 {
    params[0] * params[1] * params[2] + params[3] * params[3] + params[4] * params[0]
}

#[differentiate(reverse, hessian)]
fn f0_outer(params: &[f64]) -> f64 {
    f0_inner(params) + params[2].sin() - params[4].exp()
}

#[differentiate(reverse, hessian)]
fn f1_inner(p: &[f64]) -> f64 {
    p[0] * p[1]
}

#[differentiate(reverse, hessian)]
fn f1_outer(x: f64, y: f64) -> f64 {
    let arr = [x, y];
    f1_inner(&arr)
}

#[differentiate(reverse, hessian)]
fn f2_inner(p: &[f64], x: f64) -> f64 {
    p[0] * x * x
}

#[differentiate(reverse, hessian)]
fn f2_outer(x: f64) -> f64 {
    let arr = [2.0, 3.0];
    f2_inner(&arr, x)
}

#[differentiate(reverse, hessian)]
fn nested_f(x: f64, y: f64) -> f64 {
    x * x + y * y
}

#[differentiate(reverse, hessian)]
fn nested_f2(x: f64, y: f64) -> f64 {
    nested_f(x, y)
}

/// Hessian/EarlyReturns.C: a return before a loop.
#[differentiate(reverse, hessian)]
fn poly(coefs: &[f64], n: usize) -> f64 {
    let degree = n - 1;
    if degree == 2 {
        return coefs[2] * coefs[1] + coefs[1] * coefs[0];
    }
    let mut t = 1.0;
    let mut result = coefs[0];
    for i in 1..degree {
        result += t * coefs[i];
        t *= coefs[0];
    }
    result
}

#[differentiate(reverse, hessian)]
fn early_before_loop(c: &[f64]) -> f64 {
    poly(c, 3)
}

#[differentiate(reverse, hessian)]
fn loop_after_early(c: &[f64]) -> f64 {
    poly(c, 4)
}

#[differentiate(reverse, forward, hessian)]
fn linear_and_nonlinear(x: f64, y: f64) -> f64 {
    let mut a = x * y;
    let mut s = a;
    for _ in 0..3 {
        s += a;
        a *= x;
    }
    s * a
}

#[differentiate(reverse, hessian)]
fn many_directions(p: &[f64], q: f64) -> f64 {
    p[0] * p[1] * p[2] + p[3] * q * q
}

#[differentiate(reverse, hessian, wrt(p))]
fn some_directions(p: &[f64], x: &[f64]) -> f64 {
    p[0] * p[0] * x[0] + p[1] * p[1] * p[1] * x[1]
}

#[differentiate(reverse, hessian, wrt(x))]
fn two_subsets_x(x: f64, y: f64) -> f64 {
    x * x * y + y * y
}

#[differentiate(reverse, forward, hessian)]
fn cube(u: f64) -> f64 {
    u * u * u
}

#[differentiate(reverse, forward, hessian)]
fn sum_of_cubes(x: f64, y: f64) -> f64 {
    cube(x) + cube(y)
}

/// `enum Kind { Linear, Quadratic }` as a flag.
#[differentiate(reverse, hessian, wrt(x, y))]
fn with_enum(x: f64, y: f64, quadratic: bool) -> f64 {
    if quadratic {
        return x * x * y;
    }
    x * y
}

/// `double& scale`, a constant.
#[allow(clippy::trivially_copy_pass_by_ref)]
#[differentiate(reverse, hessian, wrt(x, y))]
fn with_ref(x: f64, y: f64, scale: &f64) -> f64 {
    x * x * y * scale
}

/// Hessian/BuiltinDerivatives.C, in `f32`.
#[differentiate(reverse, hessian)]
fn hb_f1(x: f32) -> f32 {
    x.sin() + x.cos()
}

#[differentiate(reverse, hessian)]
fn hb_f4(x: f32) -> f32 {
    x.powf(4.0)
}

#[differentiate(reverse, hessian)]
fn hb_f5(x: f32) -> f32 {
    2.0_f32.powf(x)
}

#[differentiate(reverse, hessian)]
fn hb_f6(x: f32, y: f32) -> f32 {
    x.powf(y)
}

#[differentiate(reverse, hessian)]
fn hb_f7(x: f32, y: f32) -> f32 {
    x.sin() + y.exp()
}

#[differentiate(reverse, hessian)]
fn hb_f8(x: f32, y: f32) -> f32 {
    0.5 * (x * x + y * y) + x * y
}

#[test]
fn hessians() {
    // Clad's numbers.
    assert_eq!(f_cubed_add1_hessian(1.0, 2.0).3, [[6.0, 0.0], [0.0, 12.0]]);
    assert_eq!(f_suvat1_hessian(1.0, 2.0).3, [[0.0, 1.0], [1.0, 9.81]]);
    assert_eq!(h_cond3_hessian(5.0, -2.0).3, [[30.0, 0.0], [0.0, 12.0]]);
    assert_eq!(f_power10_hessian(5.0).2, [[90.0 * 5.0_f64.powi(8)]]);
    let pts = [[1.0, 2.0], [0.5, -1.5], [-0.8, 0.3]];
    hessian2(
        "f_cubed_add1",
        &pts,
        f_cubed_add1_grad,
        f_cubed_add1_hessian,
        f_cubed_add1_hvp,
    );
    hessian2(
        "f_suvat1",
        &pts,
        f_suvat1_grad,
        f_suvat1_hessian,
        f_suvat1_hvp,
    );
    hessian2("h_cond3", &pts, h_cond3_grad, h_cond3_hessian, h_cond3_hvp);
    hessian2(
        "f1_outer",
        &pts,
        f1_outer_grad,
        f1_outer_hessian,
        f1_outer_hvp,
    );
    hessian2(
        "nested_f2",
        &pts,
        nested_f2_grad,
        nested_f2_hessian,
        nested_f2_hvp,
    );
    hessian2(
        "linear_and_nonlinear",
        &pts,
        linear_and_nonlinear_grad,
        linear_and_nonlinear_hessian,
        linear_and_nonlinear_hvp,
    );
    hessian2(
        "sum_of_cubes",
        &pts,
        sum_of_cubes_grad,
        sum_of_cubes_hessian,
        sum_of_cubes_hvp,
    );
    assert_eq!(sum_of_cubes_hessian(2.0, 3.0).3, [[12.0, 0.0], [0.0, 18.0]]);
    for p in pts {
        check_point(
            "linear_and_nonlinear",
            &p,
            &|q| linear_and_nonlinear(q[0], q[1]),
            &|q| {
                let (v, a, b) = linear_and_nonlinear_grad(q[0], q[1]);
                (v, vec![a, b])
            },
            &|q, d| linear_and_nonlinear_jvp(q[0], d[0], q[1], d[1]),
        );
    }
    for x in [5.0, -0.7, 1.1] {
        let (v, d, h) = f_power10_hessian(x);
        assert_eq!((v, d), f_power10_grad(x));
        assert_near(
            "f_power10",
            &[d, h[0][0]],
            &[10.0 * x.powi(9), 90.0 * x.powi(8)],
            1e-12,
        );
        let (_, d2, h2) = f2_outer_hessian(x);
        assert_eq!((d2, h2), (4.0 * x, [[4.0]]));
        let (_, _, hv) = f_power10_hvp(x, 2.0);
        assert_near("f_power10_hvp", &[hv], &[180.0 * x.powi(8)], 1e-12);
    }
    let e = Experiment { x: 11.0, y: 17.0 };
    let (_, di, dj, h) = e.some_method_hessian(3.0, 4.0);
    assert_eq!((di, dj, h), (40.0, 33.0, [[8.0, 14.0], [14.0, 6.0]]));
    let w = Widget { x: 3.0, y: 5.0 };
    let (_, _, _, h) = w.mem_fn_1_hessian(3.0, 4.0);
    assert_eq!(h, [[0.0, 15.0], [15.0, 0.0]]);
    for (i, j) in [(3.0, 4.0), (-0.5, 1.25)] {
        let grad = |q: &[f64]| {
            let (_, a, b) = w.mem_fn_2_grad(q[0], q[1]);
            vec![a, b]
        };
        let (_, a, b) = w.mem_fn_2_grad(i, j);
        let f = |q: &[f64]| w.mem_fn_2(q[0], q[1]);
        assert_near("mem_fn_2 gradient", &[a, b], &fd_gradient(f, &[i, j]), FD);
        let (_, _, _, h) = w.mem_fn_2_hessian(i, j);
        check_hessian("mem_fn_2 hessian", h.as_flattened(), grad, &[i, j]);
        // Weights too: the flattened order is the order the body first reads them: x, y, i, j.
        let flat = |q: &[f64]| Widget { x: q[0], y: q[1] }.mem_fn_2(q[2], q[3]);
        let grad_all = |q: &[f64]| {
            let (_, dw, di, dj) = Widget { x: q[0], y: q[1] }.mem_fn_2_all_grad(q[2], q[3]);
            vec![dw.x, dw.y, di, dj]
        };
        let at = [w.x, w.y, i, j];
        assert_near(
            "mem_fn_2_all gradient",
            &grad_all(&at),
            &fd_gradient(flat, &at),
            FD,
        );
        let (_, _, _, _, h) = w.mem_fn_2_all_hessian(i, j);
        check_hessian("mem_fn_2_all hessian", &h, grad_all, &at);
    }
    // Hessian/Arrays.C.
    for (i, j) in [(3.0, [4.0, 5.0]), (-0.5, [1.5, 0.25])] {
        let (_, _, _, h) = h_arr_f_hessian(i, j);
        assert_eq!(h, [[0.0, j[1], j[0]], [j[1], 0.0, i], [j[0], i, 0.0]]);
        let (_, _, _, h) = h_arr_g_hessian(i, j);
        assert_eq!(h, [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]);
    }
    let (arr, weights, m) = ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], 2.0);
    let (_, _, _, _, h) = h_arr_h_hessian(arr, weights, m);
    let diag: Vec<f64> = (0..7).map(|k| h[k][k]).collect();
    assert_eq!(diag, [128.0, 200.0, 288.0, 8.0, 32.0, 72.0, 2048.0]);
    let grad = |q: &[f64]| {
        let (_, a, w, m) = h_arr_h_grad([q[0], q[1], q[2]], [q[3], q[4], q[5]], q[6]);
        [a.as_slice(), &w, &[m]].concat()
    };
    let at = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 2.0];
    let f = |q: &[f64]| h_arr_h([q[0], q[1], q[2]], [q[3], q[4], q[5]], q[6]);
    assert_near("h_arr_h gradient", &grad(&at), &fd_gradient(f, &at), FD);
    check_hessian("h_arr_h hessian", h.as_flattened(), grad, &at);
    // Hessian/NestedArrays.C.
    let p5 = [1.5, 2.0, -0.5, 3.0, 1.0];
    let (v, d, h) = f0_outer_hessian(&p5);
    assert_eq!(v, f0_outer(&p5));
    assert_near("f0_outer gradient", &d, &fd_gradient(f0_outer, &p5), FD);
    check_hessian("f0_outer hessian", &h, |q| f0_outer_grad(q).1, &p5);
    // Hessian/EarlyReturns.C.
    let c = [0.3, 0.7, 0.2, 0.5];
    for (name, f, g, hf) in [
        (
            "early_before_loop",
            early_before_loop as fn(&[f64]) -> f64,
            early_before_loop_grad as fn(&[f64]) -> (f64, Vec<f64>),
            early_before_loop_hessian as fn(&[f64]) -> (f64, Vec<f64>, Vec<f64>),
        ),
        (
            "loop_after_early",
            loop_after_early,
            loop_after_early_grad,
            loop_after_early_hessian,
        ),
    ] {
        let (v, d, h) = hf(&c);
        assert_eq!(v, f(&c));
        assert_eq!(d, g(&c).1);
        assert_near(&format!("{name} gradient"), &d, &fd_gradient(f, &c), FD);
        check_hessian(&format!("{name} hessian"), &h, |q| g(q).1, &c);
    }
    // Hessian/VectorProducts.C.
    let p = [2.0, 3.0, 5.0, 7.0];
    let (_, _, _, h) = many_directions_hessian(&p, 11.0);
    let grad = |q: &[f64]| {
        let (_, mut d, dq) = many_directions_grad(&q[..4], q[4]);
        d.push(dq);
        d
    };
    check_hessian(
        "many_directions hessian",
        &h,
        grad,
        &[2.0, 3.0, 5.0, 7.0, 11.0],
    );
    let (_, _, h) = some_directions_hessian(&[2.0, 3.0], &[1.5, 0.5]);
    assert_eq!(h, [3.0, 0.0, 0.0, 9.0]);
    let (_, _, h) = two_subsets_x_hessian(2.0, 3.0);
    assert_eq!(h, [[6.0]]);
    // Hessian/PerDirectionFallback.C.
    assert_eq!(
        with_enum_hessian(1.0, 2.0, true).3,
        [[4.0, 2.0], [2.0, 0.0]]
    );
    assert_eq!(
        with_enum_hessian(1.0, 2.0, false).3,
        [[0.0, 1.0], [1.0, 0.0]]
    );
    assert_eq!(
        with_ref_hessian(1.0, 2.0, &3.0).3,
        [[12.0, 6.0], [6.0, 0.0]]
    );
    // Hessian/BuiltinDerivatives.C, in f32, against closed forms.
    for x in [0.7_f32, 1.9] {
        let (_, d, h) = hb_f1_hessian(x);
        assert!(
            (d - (x.cos() - x.sin())).abs() < 1e-6 && (h[0][0] + x.sin() + x.cos()).abs() < 1e-6
        );
        let (_, d, h) = hb_f4_hessian(x);
        assert!(
            (d - 4.0 * x.powi(3)).abs() < 1e-4 * d.abs()
                && (h[0][0] - 12.0 * x * x).abs() < 1e-4 * h[0][0]
        );
        let (_, d, h) = hb_f5_hessian(x);
        let l = 2.0_f32.ln();
        assert!(
            (d - 2.0_f32.powf(x) * l).abs() < 1e-5
                && (h[0][0] - 2.0_f32.powf(x) * l * l).abs() < 1e-5
        );
        let y = 1.3_f32;
        let (_, dx, dy, h) = hb_f6_hessian(x, y);
        let (lx, p) = (x.ln(), x.powf(y));
        let want = [
            [
                y * (y - 1.0) * x.powf(y - 2.0),
                x.powf(y - 1.0) * (1.0 + y * lx),
            ],
            [x.powf(y - 1.0) * (1.0 + y * lx), p * lx * lx],
        ];
        assert!((dx - y * x.powf(y - 1.0)).abs() < 1e-5 && (dy - p * lx).abs() < 1e-5);
        for r in 0..2 {
            for k in 0..2 {
                assert!(
                    (h[r][k] - want[r][k]).abs() < 1e-5,
                    "hb_f6 hessian {h:?} vs {want:?}"
                );
            }
        }
        let (_, _, _, h) = hb_f7_hessian(x, y);
        assert!(
            (h[0][0] + x.sin()).abs() < 1e-6 && h[0][1] == 0.0 && (h[1][1] - y.exp()).abs() < 1e-5
        );
        assert_eq!(hb_f8_hessian(x, y).3, [[1.0, 1.0], [1.0, 1.0]]);
    }
}

// ---------------------------------------------------------------------------------------------
// Jacobian/Jacobian.C, Jacobian/FunctionCalls.C
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn jac_f1(a: f64, b: f64, c: f64) -> [f64; 3] {
    [a * a * a, a * a * a + b * b * b, c * c * 10.0 - a * a]
}

#[differentiate(reverse, forward, hessian)]
fn jac_f3(x: f64, y: f64, z: f64) -> [f64; 3] {
    let constant = 42.0;
    [x.sin() * constant, y.sin() * constant, z.sin() * constant]
}

#[differentiate(reverse, forward, hessian)]
fn jmultiply(x: f64, y: f64) -> f64 {
    x * y
}

#[differentiate(reverse, forward, hessian)]
fn jac_f4(x: f64, y: f64, z: f64) -> [f64; 3] {
    let constant = 42.0;
    [
        jmultiply(x, y) * constant,
        jmultiply(y, z) * constant,
        jmultiply(z, x) * constant,
    ]
}

#[differentiate(reverse, forward, hessian)]
fn jac_f6(a: [f64; 2], b: f64) -> [f64; 3] {
    [
        a[0] * a[0] * a[0],
        a[0] * a[0] * a[0] + b * b * b,
        2.0 * (a[0] + b),
    ]
}

/// `void f_7(double a, double& b, double& c)`: two outputs as a tuple.
#[differentiate(reverse, forward, hessian)]
fn jac_f7(a: f64) -> (f64, f64) {
    let b = 3.0 * a;
    let c = -5.0 * b;
    (b, c)
}

#[differentiate(reverse, forward, hessian)]
fn jac_f8(a: f64, b: f64) -> [f64; 3] {
    let a3 = a * a * a;
    [a3, a3 + b * b * b, 2.0 * (a + b)]
}

/// The second output reads the first.
#[differentiate(reverse, forward, hessian)]
fn jac_f9(a: f64) -> [f64; 2] {
    let mut out = [0.0; 2];
    out[0] = a * a;
    out[1] = out[0] * 3.0;
    out
}

#[differentiate(reverse, forward, hessian)]
fn jac_f11(a: [f64; 2], b: [f64; 1]) -> [f64; 3] {
    [a[0] * a[1], a[0] * a[0] + b[0], 2.0 * (a[0] + b[0])]
}

#[differentiate(reverse, forward, hessian)]
fn jfc_fn1(i: f64, j: f64) -> [f64; 2] {
    [i.powf(j), j.powf(i)]
}

#[differentiate(reverse, forward, hessian)]
fn jadd(a: f64, b: f64) -> f64 {
    a + b
}

#[differentiate(reverse, forward, hessian)]
fn jfc_fn2(a: f64, b: f64) -> [f64; 2] {
    let mut res = [0.0; 2];
    res[0] = a * 10.0 + b * b * 9.0;
    res[0] = jadd(res[0], 10.0);
    res[1] = a * a * 9.0 + b * b * 10.0;
    res
}

/// A caller of a function with several outputs, in both modes and second order.
#[differentiate(reverse, forward, hessian)]
fn jac_caller(a: f64, b: f64) -> f64 {
    let [u, v] = jfc_fn1_h(a, b);
    u * v + u
}

#[differentiate(reverse, forward, hessian)]
fn jfc_fn1_h(i: f64, j: f64) -> [f64; 2] {
    [i.powf(j), j.powf(i)]
}

#[track_caller]
fn check_outputs3<const M: usize>(
    name: &str,
    p: [f64; 3],
    f: fn(f64, f64, f64) -> [f64; M],
    jac: Jac3M<M>,
    vjp: Vjp3M<M>,
    jvp: Jvp3M<M>,
) {
    let fv = |q: &[f64]| f(q[0], q[1], q[2]).to_vec();
    let (out, j) = jac(p[0], p[1], p[2]);
    assert_eq!(out, f(p[0], p[1], p[2]), "{name} output");
    check_jacobian(name, &p, &fv, j.as_flattened());
    let seed: [f64; M] = std::array::from_fn(|i| 0.5 - 0.3 * i as f64);
    let (_, a, b, c) = vjp(p[0], p[1], p[2], seed);
    let want: Vec<f64> = (0..3)
        .map(|k| (0..M).map(|i| seed[i] * j[i][k]).sum())
        .collect();
    assert_near(&format!("{name} vjp"), &[a, b, c], &want, 1e-12);
    let dir = direction(3);
    let (_, t) = jvp(p[0], dir[0], p[1], dir[1], p[2], dir[2]);
    let want: Vec<f64> = j.iter().map(|row| dot(row, &dir)).collect();
    assert_near(&format!("{name} jvp"), &t, &want, 1e-12);
}

type Jvp3M<const M: usize> = fn(f64, f64, f64, f64, f64, f64) -> ([f64; M], [f64; M]);
type Jac3M<const M: usize> = fn(f64, f64, f64) -> ([f64; M], [[f64; 3]; M]);
type Vjp3M<const M: usize> = fn(f64, f64, f64, [f64; M]) -> ([f64; M], f64, f64, f64);

#[test]
fn jacobians() {
    for p in [[1.0, 2.0, 3.0], [-0.4, 0.7, 1.3]] {
        check_outputs3("jac_f1", p, jac_f1, jac_f1_jacobian, jac_f1_vjp, jac_f1_jvp);
        check_outputs3("jac_f3", p, jac_f3, jac_f3_jacobian, jac_f3_vjp, jac_f3_jvp);
        check_outputs3("jac_f4", p, jac_f4, jac_f4_jacobian, jac_f4_vjp, jac_f4_jvp);
    }
    assert_eq!(
        jac_f1_jacobian(1.0, 2.0, 3.0).1,
        [[3.0, 0.0, 0.0], [3.0, 12.0, 0.0], [-2.0, 0.0, 60.0]]
    );
    for (a, b) in [([3.0, 1.0], 5.0), ([-0.5, 2.0], 0.3)] {
        let (out, j) = jac_f6_jacobian(a, b);
        assert_eq!(out, jac_f6(a, b));
        let fv = |q: &[f64]| jac_f6([q[0], q[1]], q[2]).to_vec();
        check_jacobian("jac_f6", &[a[0], a[1], b], &fv, j.as_flattened());
        let (_, t) = jac_f6_jvp(a, [1.0, 1.0], b, 1.0);
        assert_near(
            "jac_f6 jvp",
            &t,
            &[j[0][0] + j[0][2], j[1][0] + j[1][2], j[2][0] + j[2][2]],
            1e-12,
        );
        let (out, j) = jac_f8_jacobian(a[0], b);
        assert_eq!(out, jac_f8(a[0], b));
        let fv = |q: &[f64]| jac_f8(q[0], q[1]).to_vec();
        check_jacobian("jac_f8", &[a[0], b], &fv, j.as_flattened());
        let (out, j) = jac_f11_jacobian(a, [b]);
        assert_eq!(out, jac_f11(a, [b]));
        let fv = |q: &[f64]| jac_f11([q[0], q[1]], [q[2]]).to_vec();
        check_jacobian("jac_f11", &[a[0], a[1], b], &fv, j.as_flattened());
        let (_, da, db) = jac_f11_vjp(a, [b], [1.0, -1.0, 0.5]);
        assert_near(
            "jac_f11 vjp",
            &[da[0], da[1], db[0]],
            &[a[1] - 2.0 * a[0] + 1.0, a[0], 0.0],
            1e-12,
        );
        for (name, f, jf) in [
            (
                "jfc_fn1",
                jfc_fn1 as fn(f64, f64) -> [f64; 2],
                jfc_fn1_jacobian as fn(f64, f64) -> ([f64; 2], [[f64; 2]; 2]),
            ),
            ("jfc_fn2", jfc_fn2, jfc_fn2_jacobian),
        ] {
            let p = [a[0].abs() + 0.5, b.abs() + 1.0];
            let (out, j) = jf(p[0], p[1]);
            assert_eq!(out, f(p[0], p[1]));
            let fv = |q: &[f64]| f(q[0], q[1]).to_vec();
            check_jacobian(name, &p, &fv, j.as_flattened());
        }
    }
    // Clad's numbers: {405, 266.96, 201.18, 75} and {10, 90, 54, 100} at (3, 5).
    let (_, j) = jfc_fn1_jacobian(3.0, 5.0);
    assert_near(
        "jfc_fn1 at (3, 5)",
        j.as_flattened(),
        &[405.0, 243.0 * 3.0_f64.ln(), 125.0 * 5.0_f64.ln(), 75.0],
        1e-9,
    );
    assert_eq!(jfc_fn2_jacobian(3.0, 5.0).1, [[10.0, 90.0], [54.0, 100.0]]);
    let (out, j) = jac_f7_jacobian(2.0);
    assert_eq!((out, j), ((6.0, -30.0), [[3.0], [-15.0]]));
    assert_eq!(jac_f7_vjp(2.0, (1.0, 1.0)), ((6.0, -30.0), -12.0));
    assert_eq!(jac_f7_jvp(2.0, 1.0), ((6.0, -30.0), (3.0, -15.0)));
    assert_eq!(jac_f9_jacobian(2.0), ([4.0, 12.0], [[4.0], [12.0]]));
    assert_eq!(jac_f9_jvp(2.0, 0.5), ([4.0, 12.0], [2.0, 6.0]));
    for p in [[1.3, 0.7], [0.45, 2.1]] {
        check_point(
            "jac_caller",
            &p,
            &|q| jac_caller(q[0], q[1]),
            &|q| {
                let (v, a, b) = jac_caller_grad(q[0], q[1]);
                (v, vec![a, b])
            },
            &|q, d| jac_caller_jvp(q[0], d[0], q[1], d[1]),
        );
    }
    hessian2(
        "jac_caller",
        &[[1.3, 0.7], [0.45, 2.1]],
        jac_caller_grad,
        jac_caller_hessian,
        jac_caller_hvp,
    );
}

// ---------------------------------------------------------------------------------------------
// Second order for every function of one or two scalars above
// ---------------------------------------------------------------------------------------------

type Hess1 = fn(f64) -> (f64, f64, [[f64; 1]; 1]);
type Hvp1 = fn(f64, f64) -> (f64, f64, f64);

/// The second derivative against differences of the (checked) first, and `f_hvp`.
#[track_caller]
fn hessian1(name: &str, pts: &[f64], g: Grad1, h: Hess1, hvp: Hvp1) {
    for &x in pts {
        let (v, d) = g(x);
        let (vh, dh, hess) = h(x);
        same_value(&format!("{name}_hessian at {x}"), vh, v);
        assert_near(
            &format!("{name}_hessian gradient at {x}"),
            &[dh],
            &[d],
            EXACT,
        );
        check_hessian(
            &format!("{name} hessian at {x}"),
            hess.as_flattened(),
            |q| vec![g(q[0]).1],
            &[x],
        );
        let (vv, dv, hv) = hvp(x, -0.75);
        same_value(&format!("{name}_hvp at {x}"), vv, v);
        assert_near(
            &format!("{name}_hvp at {x}"),
            &[dv, hv],
            &[d, -0.75 * hess[0][0]],
            1e-9,
        );
    }
}

#[test]
fn second_order_of_the_scalar_programs() {
    for (name, g, h, hvp) in [
        (
            "assign_f12",
            assign_f12_grad as Grad2,
            assign_f12_hessian as Hess2,
            assign_f12_hvp as Hvp2,
        ),
        (
            "assign_f13",
            assign_f13_grad,
            assign_f13_hessian,
            assign_f13_hvp,
        ),
        (
            "assign_f14",
            assign_f14_grad,
            assign_f14_hessian,
            assign_f14_hvp,
        ),
        (
            "assign_f15",
            assign_f15_grad,
            assign_f15_hessian,
            assign_f15_hvp,
        ),
        (
            "assign_f16",
            assign_f16_grad,
            assign_f16_hessian,
            assign_f16_hvp,
        ),
        (
            "assign_f19",
            assign_f19_grad,
            assign_f19_hessian,
            assign_f19_hvp,
        ),
        (
            "assign_f2",
            assign_f2_grad,
            assign_f2_hessian,
            assign_f2_hvp,
        ),
        (
            "assign_f24",
            assign_f24_grad,
            assign_f24_hessian,
            assign_f24_hvp,
        ),
        (
            "assign_f26",
            assign_f26_grad,
            assign_f26_hessian,
            assign_f26_hvp,
        ),
        (
            "assign_f27",
            assign_f27_grad,
            assign_f27_hessian,
            assign_f27_hvp,
        ),
        (
            "assign_f3",
            assign_f3_grad,
            assign_f3_hessian,
            assign_f3_hvp,
        ),
        (
            "assign_f5",
            assign_f5_grad,
            assign_f5_hessian,
            assign_f5_hvp,
        ),
        (
            "assign_f7",
            assign_f7_grad,
            assign_f7_hessian,
            assign_f7_hvp,
        ),
        (
            "assign_f8",
            assign_f8_grad,
            assign_f8_hessian,
            assign_f8_hvp,
        ),
        (
            "assign_f9",
            assign_f9_grad,
            assign_f9_hessian,
            assign_f9_hvp,
        ),
        (
            "bd_binary",
            bd_binary_grad,
            bd_binary_hessian,
            bd_binary_hvp,
        ),
        ("bd_f11", bd_f11_grad, bd_f11_hessian, bd_f11_hvp),
        ("bd_f15", bd_f15_grad, bd_f15_hessian, bd_f15_hvp),
        ("bd_hypot", bd_hypot_grad, bd_hypot_hessian, bd_hypot_hvp),
        ("bd_norm", bd_norm_grad, bd_norm_hessian, bd_norm_hvp),
        (
            "calls_fn10",
            calls_fn10_grad,
            calls_fn10_hessian,
            calls_fn10_hvp,
        ),
        (
            "calls_fn27",
            calls_fn27_grad,
            calls_fn27_hessian,
            calls_fn27_hvp,
        ),
        (
            "calls_fn28",
            calls_fn28_grad,
            calls_fn28_hessian,
            calls_fn28_hvp,
        ),
        (
            "calls_fn9",
            calls_fn9_grad,
            calls_fn9_hessian,
            calls_fn9_hvp,
        ),
        (
            "compound_f1",
            compound_f1_grad,
            compound_f1_hessian,
            compound_f1_hvp,
        ),
        (
            "compound_f2",
            compound_f2_grad,
            compound_f2_hessian,
            compound_f2_hvp,
        ),
        (
            "compound_f4",
            compound_f4_grad,
            compound_f4_hessian,
            compound_f4_hvp,
        ),
        (
            "compound_f5",
            compound_f5_grad,
            compound_f5_hessian,
            compound_f5_hvp,
        ),
        (
            "decl_after_early",
            decl_after_early_grad,
            decl_after_early_hessian,
            decl_after_early_hvp,
        ),
        ("f_add1", f_add1_grad, f_add1_hessian, f_add1_hvp),
        ("f_add3", f_add3_grad, f_add3_hessian, f_add3_hvp),
        ("f_c", f_c_grad, f_c_hessian, f_c_hvp),
        ("f_cond1", f_cond1_grad, f_cond1_hessian, f_cond1_hvp),
        ("f_cond2", f_cond2_grad, f_cond2_hessian, f_cond2_hvp),
        ("f_cond3", f_cond3_grad, f_cond3_hessian, f_cond3_hvp),
        ("f_cond4", f_cond4_grad, f_cond4_hessian, f_cond4_hvp),
        (
            "f_const_denom",
            f_const_denom_grad,
            f_const_denom_hessian,
            f_const_denom_hvp,
        ),
        (
            "f_const_reference",
            f_const_reference_grad,
            f_const_reference_hessian,
            f_const_reference_hvp,
        ),
        ("f_decls1", f_decls1_grad, f_decls1_hessian, f_decls1_hvp),
        ("f_decls2", f_decls2_grad, f_decls2_hessian, f_decls2_hvp),
        ("f_decls3", f_decls3_grad, f_decls3_hessian, f_decls3_hvp),
        ("f_div2", f_div2_grad, f_div2_hessian, f_div2_hvp),
        ("f_if2", f_if2_grad, f_if2_hessian, f_if2_hvp),
        (
            "f_infinity",
            f_infinity_grad,
            f_infinity_hessian,
            f_infinity_hvp,
        ),
        (
            "f_issue138",
            f_issue138_grad,
            f_issue138_hessian,
            f_issue138_hvp,
        ),
        ("f_mult2", f_mult2_grad, f_mult2_hessian, f_mult2_hvp),
        ("f_mult3", f_mult3_grad, f_mult3_hessian, f_mult3_hvp),
        ("f_pow", f_pow_grad, f_pow_hessian, f_pow_hvp),
        (
            "f_rosenbrock",
            f_rosenbrock_grad,
            f_rosenbrock_hessian,
            f_rosenbrock_hvp,
        ),
        ("f_sin", f_sin_grad, f_sin_hessian, f_sin_hvp),
        ("f_sub2", f_sub2_grad, f_sub2_hessian, f_sub2_hvp),
        ("fcr_fn1", fcr_fn1_grad, fcr_fn1_hessian, fcr_fn1_hvp),
        ("fcr_fn2", fcr_fn2_grad, fcr_fn2_hessian, fcr_fn2_hvp),
        ("fcr_fn7", fcr_fn7_grad, fcr_fn7_hessian, fcr_fn7_hvp),
        ("fcr_fn8", fcr_fn8_grad, fcr_fn8_hessian, fcr_fn8_hvp),
        (
            "fd_loops_fn19",
            fd_loops_fn19_grad,
            fd_loops_fn19_hessian,
            fd_loops_fn19_hvp,
        ),
        (
            "fd_loops_fn21",
            fd_loops_fn21_grad,
            fd_loops_fn21_hessian,
            fd_loops_fn21_hvp,
        ),
        (
            "fd_loops_fn9",
            fd_loops_fn9_grad,
            fd_loops_fn9_hessian,
            fd_loops_fn9_hvp,
        ),
        (
            "fn_id_loop",
            fn_id_loop_grad,
            fn_id_loop_hessian,
            fn_id_loop_hvp,
        ),
        (
            "fn_increment_in_return",
            fn_increment_in_return_grad,
            fn_increment_in_return_hessian,
            fn_increment_in_return_hvp,
        ),
        (
            "loop_early",
            loop_early_grad,
            loop_early_hessian,
            loop_early_hvp,
        ),
        (
            "loops_const",
            loops_const_grad,
            loops_const_hessian,
            loops_const_hvp,
        ),
        ("loops_f6", loops_f6_grad, loops_f6_hessian, loops_f6_hvp),
        (
            "loops_fn10",
            loops_fn10_grad,
            loops_fn10_hessian,
            loops_fn10_hvp,
        ),
        (
            "loops_fn11",
            loops_fn11_grad,
            loops_fn11_hessian,
            loops_fn11_hvp,
        ),
        (
            "loops_fn12",
            loops_fn12_grad,
            loops_fn12_hessian,
            loops_fn12_hvp,
        ),
        (
            "loops_fn13",
            loops_fn13_grad,
            loops_fn13_hessian,
            loops_fn13_hvp,
        ),
        (
            "loops_fn14",
            loops_fn14_grad,
            loops_fn14_hessian,
            loops_fn14_hvp,
        ),
        (
            "loops_fn15",
            loops_fn15_grad,
            loops_fn15_hessian,
            loops_fn15_hvp,
        ),
        (
            "loops_fn16",
            loops_fn16_grad,
            loops_fn16_hessian,
            loops_fn16_hvp,
        ),
        (
            "loops_fn17",
            loops_fn17_grad,
            loops_fn17_hessian,
            loops_fn17_hvp,
        ),
        (
            "loops_fn18",
            loops_fn18_grad,
            loops_fn18_hessian,
            loops_fn18_hvp,
        ),
        (
            "loops_fn24",
            loops_fn24_grad,
            loops_fn24_hessian,
            loops_fn24_hvp,
        ),
        (
            "loops_fn25",
            loops_fn25_grad,
            loops_fn25_hessian,
            loops_fn25_hvp,
        ),
        (
            "loops_fn27",
            loops_fn27_grad,
            loops_fn27_hessian,
            loops_fn27_hvp,
        ),
        (
            "loops_fn32",
            loops_fn32_grad,
            loops_fn32_hessian,
            loops_fn32_hvp,
        ),
        (
            "loops_fn34",
            loops_fn34_grad,
            loops_fn34_hessian,
            loops_fn34_hvp,
        ),
        (
            "loops_fn35",
            loops_fn35_grad,
            loops_fn35_hessian,
            loops_fn35_hvp,
        ),
        (
            "loops_fn36",
            loops_fn36_grad,
            loops_fn36_hessian,
            loops_fn36_hvp,
        ),
        (
            "loops_fn37",
            loops_fn37_grad,
            loops_fn37_hessian,
            loops_fn37_hvp,
        ),
        (
            "loops_fn38",
            loops_fn38_grad,
            loops_fn38_hessian,
            loops_fn38_hvp,
        ),
        (
            "loops_fn40",
            loops_fn40_grad,
            loops_fn40_hessian,
            loops_fn40_hvp,
        ),
        (
            "loops_fn41",
            loops_fn41_grad,
            loops_fn41_hessian,
            loops_fn41_hvp,
        ),
        (
            "loops_fn45",
            loops_fn45_grad,
            loops_fn45_hessian,
            loops_fn45_hvp,
        ),
        (
            "loops_fn46",
            loops_fn46_grad,
            loops_fn46_hessian,
            loops_fn46_hvp,
        ),
        (
            "loops_fn7",
            loops_fn7_grad,
            loops_fn7_hessian,
            loops_fn7_hvp,
        ),
        (
            "loops_fn8",
            loops_fn8_grad,
            loops_fn8_hessian,
            loops_fn8_hvp,
        ),
        (
            "loops_fn9",
            loops_fn9_grad,
            loops_fn9_hessian,
            loops_fn9_hvp,
        ),
        (
            "mid_early",
            mid_early_grad,
            mid_early_hessian,
            mid_early_hvp,
        ),
        (
            "multi_early",
            multi_early_grad,
            multi_early_hessian,
            multi_early_hvp,
        ),
        (
            "nested_early_return",
            nested_early_return_grad,
            nested_early_return_hessian,
            nested_early_return_hvp,
        ),
        (
            "ref_after_early",
            ref_after_early_grad,
            ref_after_early_hessian,
            ref_after_early_hvp,
        ),
        (
            "single_early",
            single_early_grad,
            single_early_hessian,
            single_early_hvp,
        ),
        (
            "switch_fn3",
            switch_fn3_grad,
            switch_fn3_hessian,
            switch_fn3_hvp,
        ),
        (
            "switch_fn7",
            switch_fn7_grad,
            switch_fn7_hessian,
            switch_fn7_hvp,
        ),
        (
            "switch_fn7_ranges",
            switch_fn7_ranges_grad,
            switch_fn7_ranges_hessian,
            switch_fn7_ranges_hvp,
        ),
        ("unary_f2", unary_f2_grad, unary_f2_hessian, unary_f2_hvp),
        ("vm_f3", vm_f3_grad, vm_f3_hessian, vm_f3_hvp),
    ] {
        let pts: &[[f64; 2]] = match name {
            "single_early"
            | "multi_early"
            | "loop_early"
            | "mid_early"
            | "nested_early_return"
            | "decl_after_early"
            | "ref_after_early" => &[
                [5.0, 3.0],
                [3.0, 5.0],
                [20.5, 1.0],
                [1.0, 20.5],
                [2.0, 3.0],
                [8.0, 7.0],
                [-5.0, 3.0],
            ],
            "calls_fn10" => &[[8.0, 5.0], [5.0, 2.0], [2.0, 5.0], [-1.0, 2.0]],
            "loops_fn35" => &[[2.1, 1.7], [1.2, -0.6], [-0.9, 0.8]],
            "f_pow" => &[[1.3, 0.7], [0.45, 2.1], [2.0, -1.5]],
            _ => &P2,
        };
        hessian2(name, pts, g, h, hvp);
    }
    for (name, g, h, hvp) in [
        (
            "loops_f1",
            loops_f1_grad as Grad1,
            loops_f1_hessian as Hess1,
            loops_f1_hvp as Hvp1,
        ),
        ("loops_f2", loops_f2_grad, loops_f2_hessian, loops_f2_hvp),
        ("loops_f3", loops_f3_grad, loops_f3_hessian, loops_f3_hvp),
        ("loops_f4", loops_f4_grad, loops_f4_hessian, loops_f4_hvp),
        ("loops_f5", loops_f5_grad, loops_f5_hessian, loops_f5_hvp),
        (
            "loops_const_local",
            loops_const_local_grad,
            loops_const_local_hessian,
            loops_const_local_hvp,
        ),
        (
            "loops_fn21",
            loops_fn21_grad,
            loops_fn21_hessian,
            loops_fn21_hvp,
        ),
        (
            "loops_fn22",
            loops_fn22_grad,
            loops_fn22_hessian,
            loops_fn22_hvp,
        ),
        (
            "loops_fn39",
            loops_fn39_grad,
            loops_fn39_hessian,
            loops_fn39_hvp,
        ),
        ("fn_div", fn_div_grad, fn_div_hessian, fn_div_hvp),
        (
            "fn_const_cond_op",
            fn_const_cond_op_grad,
            fn_const_cond_op_hessian,
            fn_const_cond_op_hvp,
        ),
        ("unary_f1", unary_f1_grad, unary_f1_hessian, unary_f1_hvp),
        (
            "calls_fn23",
            calls_fn23_grad,
            calls_fn23_hessian,
            calls_fn23_hvp,
        ),
        ("bd_f17", bd_f17_grad, bd_f17_hessian, bd_f17_hvp),
        ("bd_unary", bd_unary_grad, bd_unary_hessian, bd_unary_hvp),
        ("bd_cbrt", bd_cbrt_grad, bd_cbrt_hessian, bd_cbrt_hvp),
    ] {
        hessian1(name, &[0.6, -0.45, 1.1], g, h, hvp);
    }
}

// ---------------------------------------------------------------------------------------------
// Gradient/Lambdas.C, Gradient/CommaOperator.C, and side effects inside conditions and
// expressions (Gradient/Gradients.C, Gradient/Assignments.C, Gradient/Switch.C) as blocks
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn lambda_f1(i: f64, j: f64) -> f64 {
    let f = |t: f64| t * t + 1.0;
    i + f(j)
}

#[differentiate(reverse, forward, hessian)]
fn lambda_f2(i: f64, j: f64) -> f64 {
    let f = |t: f64, k: f64| t * k;
    f(i + j, i)
}

#[differentiate(reverse, forward, hessian)]
fn lambda_f3(i: f64, j: f64) -> f64 {
    let c = 3.0;
    let f = |t: f64| t * t * c;
    i + f(j)
}

/// Nested closures.
#[differentiate(reverse, forward, hessian)]
fn lambda_f6(i: f64) -> f64 {
    let outer = |x: f64| {
        let inner = |y: f64| y * y;
        inner(x) + 2.0 * x
    };
    outer(i)
}

/// A closure with an unused parameter.
#[differentiate(reverse, forward, hessian)]
fn lambda_f7(i: f64, j: f64) -> f64 {
    let f = |t: f64, _: f64| t * t;
    f(i, j)
}

/// `if ((res = 2ij) && (res += 3ij) && (res += 5ij)) res += 6ij;`.
#[differentiate(reverse, forward, hessian)]
fn cond_add_assign(i: f64, j: f64) -> f64 {
    let mut res = i * j;
    if {
        res *= 2.0;
        res != 0.0
    } && {
        res += 3.0 * i * j;
        res != 0.0
    } && {
        res += 5.0 * i * j;
        res != 0.0
    } {
        res += 6.0 * i * j;
    }
    res
}

/// `if (x += x) return x; return x;`.
#[allow(clippy::blocks_in_conditions)]
#[differentiate(reverse, forward, hessian)]
fn cond_side_eff(mut x: f64) -> f64 {
    if {
        x += x;
        x != 0.0
    } {
        return x;
    }
    x
}

/// `return (++i) * temp;`.
#[differentiate(reverse, forward, hessian)]
fn increment_in_expression(mut i: f64) -> f64 {
    let temp = i;
    ({
        i += 1.0;
        i
    }) * temp
}

/// `double t = x * (y += x); return t * y;`.
#[differentiate(reverse, forward, hessian)]
fn assign_in_expression(x: f64, mut y: f64) -> f64 {
    let t = x * {
        y += x;
        y
    };
    t * y
}

/// `t[3] = (y *= (t[0] = t[1] = t[2]));`.
#[differentiate(reverse, forward, hessian)]
fn assign_chain(x: f64, mut y: f64) -> f64 {
    let mut t = [1.0, x, y, 1.0];
    t[3] = {
        y *= {
            t[0] = {
                t[1] = t[2];
                t[1]
            };
            t[0]
        };
        y
    };
    t[3] + t[1] * x
}

/// `return (a += 1.0, b) * c;` plus `a`.
#[differentiate(reverse, forward, hessian)]
fn comma_side_effect(mut a: f64, b: f64, c: f64) -> f64 {
    ({
        a += 1.0;
        b
    }) * c
        + a * c
}

/// Switch.C `fn6`: `switch (res = u * v) { default: temp = 1; }`.
#[allow(clippy::blocks_in_conditions)]
#[differentiate(reverse, forward, hessian)]
fn switch_scrutinee(u: f64, v: f64) -> f64 {
    let mut res = u;
    let mut temp = 0.0;
    match {
        res *= v;
        res.signum() as i32
    } {
        1 => temp += 1.0,
        _ => temp -= res,
    }
    res + temp
}

#[test]
fn lambdas_and_side_effects() {
    for (name, f, g, j, h, hv) in [
        (
            "lambda_f1",
            lambda_f1 as fn(f64, f64) -> f64,
            lambda_f1_grad as Grad2,
            lambda_f1_jvp as Jvp2,
            lambda_f1_hessian as Hess2,
            lambda_f1_hvp as Hvp2,
        ),
        (
            "lambda_f2",
            lambda_f2,
            lambda_f2_grad,
            lambda_f2_jvp,
            lambda_f2_hessian,
            lambda_f2_hvp,
        ),
        (
            "lambda_f3",
            lambda_f3,
            lambda_f3_grad,
            lambda_f3_jvp,
            lambda_f3_hessian,
            lambda_f3_hvp,
        ),
        (
            "lambda_f7",
            lambda_f7,
            lambda_f7_grad,
            lambda_f7_jvp,
            lambda_f7_hessian,
            lambda_f7_hvp,
        ),
        (
            "cond_add_assign",
            cond_add_assign,
            cond_add_assign_grad,
            cond_add_assign_jvp,
            cond_add_assign_hessian,
            cond_add_assign_hvp,
        ),
        (
            "assign_in_expression",
            assign_in_expression,
            assign_in_expression_grad,
            assign_in_expression_jvp,
            assign_in_expression_hessian,
            assign_in_expression_hvp,
        ),
        (
            "assign_chain",
            assign_chain,
            assign_chain_grad,
            assign_chain_jvp,
            assign_chain_hessian,
            assign_chain_hvp,
        ),
        (
            "switch_scrutinee",
            switch_scrutinee,
            switch_scrutinee_grad,
            switch_scrutinee_jvp,
            switch_scrutinee_hessian,
            switch_scrutinee_hvp,
        ),
    ] {
        scalar2(name, &P2, f, g, j);
        hessian2(name, &P2, g, h, hv);
    }
    // Clad's points: {80, 48} at (3, 5).
    assert_eq!(cond_add_assign_grad(3.0, 5.0), (240.0, 80.0, 48.0));
    for (name, f, g, j, h, hv) in [
        (
            "lambda_f6",
            lambda_f6 as fn(f64) -> f64,
            lambda_f6_grad as Grad1,
            lambda_f6_jvp as Jvp1,
            lambda_f6_hessian as Hess1,
            lambda_f6_hvp as Hvp1,
        ),
        (
            "cond_side_eff",
            cond_side_eff,
            cond_side_eff_grad,
            cond_side_eff_jvp,
            cond_side_eff_hessian,
            cond_side_eff_hvp,
        ),
        (
            "increment_in_expression",
            increment_in_expression,
            increment_in_expression_grad,
            increment_in_expression_jvp,
            increment_in_expression_hessian,
            increment_in_expression_hvp,
        ),
    ] {
        scalar1(name, &[0.6, -0.45, 3.0], f, g, j);
        hessian1(name, &[0.6, -0.45, 3.0], g, h, hv);
    }
    scalar3(
        "comma_side_effect",
        &[[10.0, 5.0, 2.0], [0.3, -1.2, 0.7]],
        comma_side_effect,
        comma_side_effect_grad,
        comma_side_effect_jvp,
    );
    assert_eq!(
        comma_side_effect_grad(10.0, 5.0, 2.0),
        (32.0, 2.0, 2.0, 16.0)
    );
}

//! Small numerical programs written as Rust programmers write them (iterator chains, closures,
//! `match`, `const` tables, structs with `&self` methods, `f32` and generic `T: Float`),
//! differentiated as written and checked against oracles that do not go through the macro:
//! closed forms where they are short, fourth-order central differences of the original
//! function otherwise, and, for second order, central differences of a gradient that was itself
//! checked.
//!
//! The programs:
//! - argmin's test functions (`argmin-testfunctions`, `crates/argmin-testfunctions/src` in
//!   github.com/argmin-rs/argmin), copied as the crate writes them, generic over
//!   `T: Float + FromPrimitive (+ Sum)`: `ackley` (through `ackley_abc`), `beale`, `booth`,
//!   `bukin_n6`, `easom`, `eggholder`, `goldsteinprice`, `holder_table`, `levy`, `levy_n13`,
//!   `matyas`, `mccormick`, `picheny`, `rastrigin` (through `rastrigin_a`), `schaffer_n2`,
//!   `schaffer_n4`, `sphere`, `styblinski_tang` and `threehumpcamel`;
//! - statrs' log-densities (github.com/statrs-dev/statrs, src/distribution): the Lanczos
//!   `ln_gamma` of src/function/gamma.rs (a `const` table folded through
//!   `iter().enumerate().skip(1)`), and `Normal`, `Gamma`, `Beta` and `StudentsT` as structs with
//!   a `&self` `ln_pdf`, differentiated in the point and in `self`;
//! - a logistic loss through `softplus` and a smooth maximum by log-sum-exp;
//! - cosine similarity by `zip().map().sum()`, in `f32` and `f64`;
//! - Welford's one-pass variance (Welford, Technometrics 4(3), 1962);
//! - a pairwise (cascade) sum of squares over a run-time-sized buffer (Higham, *Accuracy and
//!   Stability of Numerical Algorithms*, §4.1);
//! - soft k-means: the soft-assignment objective of one point against centroids stored row by
//!   row (`chunks_exact`) (*Information Theory, Inference and Learning Algorithms*,
//!   ch. 20);
//! - Holt's linear exponential smoothing, its sum of squared one-step errors (Hyndman and
//!   Athanasopoulos, *Forecasting: Principles and Practice*, §8.2);
//! - five-point Gauss–Legendre quadrature from `const` node and weight tables;
//! - a uniform cubic B-spline by `match` on the knot span;
//! - composite Simpson's rule by `skip`/`step_by`.
#![allow(
    // Dimensions and indices as floats, as the definitions read them; they are small.
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    // Some programs index their arrays, as the published versions do.
    clippy::needless_range_loop,
    // Constants copied with the digits their source gives.
    clippy::excessive_precision,
    clippy::unreadable_literal
)]

use std::f64::consts::{PI, TAU};
use std::iter::Sum;

use autodiff::differentiate;
use autodiff::num_traits::{Float, FromPrimitive};

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::oracles::{EXACT, FD, assert_near, check_hessian, direction, dot, fd_gradient};

// ---------------------------------------------------------------------------------------------
// 1. argmin's test functions, as argmin-testfunctions writes them
// ---------------------------------------------------------------------------------------------

#[differentiate(reverse, forward, hessian)]
fn ackley_abc<T>(param: &[T], a: T, b: T, c: T) -> T
where
    T: Float + FromPrimitive + Sum,
{
    let num1 = T::from(1.0).unwrap();
    let n = T::from(param.len()).unwrap();
    -a * (-b * ((num1 / n) * param.iter().map(|x| x.powi(2)).sum()).sqrt()).exp()
        - ((num1 / n) * param.iter().map(|x| (c * *x).cos()).sum()).exp()
        + a
        + num1.exp()
}

#[differentiate(reverse, forward, hessian)]
fn ackley<T>(param: &[T]) -> T
where
    T: Float + FromPrimitive + Sum,
{
    ackley_abc(
        param,
        T::from(20.0).unwrap(),
        T::from(0.2).unwrap(),
        T::from(TAU).unwrap(),
    )
}

#[differentiate(reverse, forward, hessian)]
fn beale<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    (T::from(1.5).unwrap() - x1 + x1 * x2).powi(2)
        + (T::from(2.25).unwrap() - x1 + x1 * (x2.powi(2))).powi(2)
        + (T::from(2.625).unwrap() - x1 + x1 * (x2.powi(3))).powi(2)
}

#[differentiate(reverse, forward, hessian)]
fn booth<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let n2 = T::from(2.0).unwrap();
    let n5 = T::from(5.0).unwrap();
    let n7 = T::from(7.0).unwrap();

    let [x1, x2] = *param;
    (x1 + n2 * x2 - n7).powi(2) + (n2 * x1 + x2 - n5).powi(2)
}

#[differentiate(reverse, forward, hessian)]
fn bukin_n6<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let n001 = T::from(0.01).unwrap();
    let n10 = T::from(10.0).unwrap();
    let n100 = T::from(100.0).unwrap();
    n100 * (x2 - n001 * x1.powi(2)).abs().sqrt() + n001 * (x1 + n10).abs()
}

#[differentiate(reverse, forward, hessian)]
fn easom<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let pi = T::from(PI).unwrap();
    -x1.cos() * x2.cos() * (-(x1 - pi).powi(2) - (x2 - pi).powi(2)).exp()
}

#[differentiate(reverse, forward, hessian)]
fn eggholder<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let n47 = T::from(47.0).unwrap();
    -(x2 + n47) * (x2 + x1 / T::from(2.0).unwrap() + n47).abs().sqrt().sin()
        - x1 * (x1 - (x2 + n47)).abs().sqrt().sin()
}

#[differentiate(reverse, forward, hessian)]
fn goldsteinprice<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let n1 = T::from(1.0).unwrap();
    let n2 = T::from(2.0).unwrap();
    let n3 = T::from(3.0).unwrap();
    let n6 = T::from(6.0).unwrap();
    let n12 = T::from(12.0).unwrap();
    let n14 = T::from(14.0).unwrap();
    let n18 = T::from(18.0).unwrap();
    let n19 = T::from(19.0).unwrap();
    let n27 = T::from(27.0).unwrap();
    let n30 = T::from(30.0).unwrap();
    let n32 = T::from(32.0).unwrap();
    let n36 = T::from(36.0).unwrap();
    let n48 = T::from(48.0).unwrap();
    (n1 + (x1 + x2 + n1).powi(2)
        * (n19 - n14 * (x1 + x2) + n3 * (x1.powi(2) + x2.powi(2)) + n6 * x1 * x2))
        * (n30
            + (n2 * x1 - n3 * x2).powi(2)
                * (n18 - n32 * x1 + n12 * x1.powi(2) + n48 * x2 - n36 * x1 * x2 + n27 * x2.powi(2)))
}

#[differentiate(reverse, forward, hessian)]
fn holder_table<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let pi = T::from(PI).unwrap();
    let n1 = T::from(1.0).unwrap();
    -(x1.sin() * x2.cos() * (n1 - (x1.powi(2) + x2.powi(2)).sqrt() / pi).abs().exp()).abs()
}

#[differentiate(reverse, forward, hessian)]
fn levy<T>(param: &[T]) -> T
where
    T: Float + FromPrimitive + Sum,
{
    let plen = param.len();
    assert!(plen >= 2);

    let n1 = T::from(1.0).unwrap();
    let n2 = T::from(2.0).unwrap();
    let n4 = T::from(4.0).unwrap();
    let n10 = T::from(10.0).unwrap();
    let pi = T::from(PI).unwrap();

    let w = |x: T| n1 + (x - n1) / n4;

    (pi * w(param[0])).sin().powi(2)
        + param[1..(plen - 1)]
            .iter()
            .map(|x| w(*x))
            .map(|wi: T| (wi - n1).powi(2) * (n1 + n10 * (pi * wi + n1).sin().powi(2)))
            .sum()
        + (w(param[plen - 1]) - n1).powi(2) * (n1 + (n2 * pi * w(param[plen - 1])).sin().powi(2))
}

#[differentiate(reverse, forward, hessian)]
fn levy_n13<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive + Sum,
{
    let [x1, x2] = *param;

    let n1 = T::from(1.0).unwrap();
    let n2 = T::from(2.0).unwrap();
    let n3 = T::from(3.0).unwrap();
    let pi = T::from(PI).unwrap();

    (n3 * pi * x1).sin().powi(2)
        + (x1 - n1).powi(2) * (n1 + (n3 * pi * x2).sin().powi(2))
        + (x2 - n1).powi(2) * (n1 + (n2 * pi * x2).sin().powi(2))
}

#[differentiate(reverse, forward, hessian)]
fn matyas<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;

    let n026 = T::from(0.26).unwrap();
    let n048 = T::from(0.48).unwrap();

    n026 * (x1.powi(2) + x2.powi(2)) - n048 * x1 * x2
}

#[differentiate(reverse, forward, hessian)]
fn mccormick<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    (x1 + x2).sin() + (x1 - x2).powi(2) - T::from(1.5).unwrap() * x1
        + T::from(2.5).unwrap() * x2
        + T::from(1.0).unwrap()
}

#[differentiate(reverse, forward, hessian)]
fn picheny<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let n1 = T::from(1.0).unwrap();
    let n2 = T::from(2.0).unwrap();
    let n3 = T::from(3.0).unwrap();
    let n4 = T::from(4.0).unwrap();
    let n6 = T::from(6.0).unwrap();
    let n12 = T::from(12.0).unwrap();
    let n14 = T::from(14.0).unwrap();
    let n18 = T::from(18.0).unwrap();
    let n19 = T::from(19.0).unwrap();
    let n27 = T::from(27.0).unwrap();
    let n30 = T::from(30.0).unwrap();
    let n32 = T::from(32.0).unwrap();
    let n36 = T::from(36.0).unwrap();
    let n48 = T::from(48.0).unwrap();

    let y = param.map(|x| n4 * x - n2);
    let [x1, x2] = y;

    T::from(1.0 / 2.427).unwrap()
        * (((n1
            + (x1 + x2 + n1).powi(2)
                * (n19 - n14 * (x1 + x2) + n3 * (x1.powi(2) + x2.powi(2)) + n6 * x1 * x2))
            * (n30
                + (n2 * x1 - n3 * x2).powi(2)
                    * (n18 - n32 * x1 + n12 * x1.powi(2) + n48 * x2 - n36 * x1 * x2
                        + n27 * x2.powi(2))))
        .log10()
            - T::from(8.693).unwrap())
}

#[differentiate(reverse, forward, hessian)]
fn rastrigin_a<T>(param: &[T], a: T) -> T
where
    T: Float + FromPrimitive + Sum,
{
    a * T::from(param.len()).unwrap()
        + param
            .iter()
            .map(|&x| x.powi(2) - a * (T::from(TAU).unwrap() * x).cos())
            .sum()
}

#[differentiate(reverse, forward, hessian)]
fn rastrigin<T>(param: &[T]) -> T
where
    T: Float + FromPrimitive + Sum,
{
    rastrigin_a(param, T::from(10.0).unwrap())
}

#[differentiate(reverse, forward, hessian)]
fn schaffer_n2<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;

    let n0_001 = T::from(0.001).unwrap();
    let n0_5 = T::from(0.5).unwrap();
    let n1 = T::from(1.0).unwrap();

    n0_5 + ((x1.powi(2) - x2.powi(2)).sin().powi(2) - n0_5)
        / (n1 + n0_001 * (x1.powi(2) + x2.powi(2))).powi(2)
}

#[differentiate(reverse, forward, hessian)]
fn schaffer_n4<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let n05 = T::from(0.5).unwrap();
    let n1 = T::from(1.0).unwrap();
    let n0001 = T::from(0.001).unwrap();
    n05 + ((x1.powi(2) - x2.powi(2)).abs().sin().cos().powi(2) - n05)
        / (n1 + n0001 * (x1.powi(2) + x2.powi(2))).powi(2)
}

#[differentiate(reverse, forward, hessian)]
fn sphere<T>(param: &[T]) -> T
where
    T: Float + FromPrimitive + Sum,
{
    param.iter().map(|x| x.powi(2)).sum()
}

#[differentiate(reverse, forward, hessian)]
fn styblinski_tang<T>(param: &[T]) -> T
where
    T: Float + FromPrimitive + Sum,
{
    T::from(0.5).unwrap()
        * param
            .iter()
            .map(|x| x.powi(4) - T::from(16.0).unwrap() * x.powi(2) + T::from(5.0).unwrap() * *x)
            .sum()
}

#[differentiate(reverse, forward, hessian)]
fn threehumpcamel<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;

    T::from(2.0).unwrap() * x1.powi(2) - T::from(1.05).unwrap() * x1.powi(4)
        + x1.powi(6) / T::from(6.0).unwrap()
        + x1 * x2
        + x2.powi(2)
}

/// Checks a two-parameter test function at `points`: value, gradient against finite differences
/// (and `want`, a closed form, where given), the tangent against the gradient, the Hessian and
/// Hessian-vector product against central differences of the checked gradient, and the `f32`
/// gradient against the `f64` one.
macro_rules! check_pair {
    ($f:ident, $grad:ident, $jvp:ident, $hessian:ident, $hvp:ident, $points:expr, $want:expr) => {{
        let want: Option<fn([f64; 2]) -> [f64; 2]> = $want;
        for p in $points {
            let p: [f64; 2] = p;
            let (value, g) = $grad(&p);
            assert_eq!(value, $f(&p), "{}: value", stringify!($f));
            let fd = fd_gradient(|q| $f(&[q[0], q[1]]), &p);
            assert_near(concat!(stringify!($f), " gradient"), &g, &fd, FD);
            if let Some(want) = want {
                assert_near(concat!(stringify!($f), " closed form"), &g, &want(p), EXACT);
            }
            let v = [0.7, -0.4];
            let (vj, t) = $jvp(&p, &v);
            assert_eq!(vj, value);
            assert!(
                (t - dot(&g, &v)).abs() <= 1e-10 * t.abs().max(1.0),
                "{}: tangent {t} vs {}",
                stringify!($f),
                dot(&g, &v)
            );
            let grad_of = |q: &[f64]| $grad(&[q[0], q[1]]).1.to_vec();
            let (hv_value, hg, hess) = $hessian(&p);
            assert_eq!(hv_value, value);
            assert_near(concat!(stringify!($f), " hessian gradient"), &hg, &g, EXACT);
            check_hessian(
                concat!(stringify!($f), " hessian"),
                hess.as_flattened(),
                grad_of,
                &p,
            );
            let (_, _, hv) = $hvp(&p, &v);
            let want_hv = [dot(&hess[0], &v), dot(&hess[1], &v)];
            assert_near(concat!(stringify!($f), " hvp"), &hv, &want_hv, 1e-9);
            let p32 = p.map(|x| x as f32);
            let (_, g32) = $grad(&p32);
            let g64 = $grad(&p32.map(f64::from)).1;
            for (a, b) in g32.map(f64::from).iter().zip(&g64) {
                assert!(
                    (a - b).abs() <= 1e-3 * b.abs() + 1e-5 * (1.0 + value.abs()),
                    "{} f32 gradient: {a} vs {b}",
                    stringify!($f)
                );
            }
        }
    }};
}

#[test]
fn argmin_two_dimensional_functions() {
    check_pair!(
        beale,
        beale_grad,
        beale_jvp,
        beale_hessian,
        beale_hvp,
        [[1.0, 1.0], [3.0, 0.5], [-1.2, 2.1]],
        Some(|[x1, x2]: [f64; 2]| {
            // ∂/∂x₁ and ∂/∂x₂ of Σₖ (cₖ − x₁ + x₁x₂ᵏ)², c = (1.5, 2.25, 2.625).
            let c = [1.5, 2.25, 2.625];
            let mut g = [0.0, 0.0];
            for (k, ck) in c.iter().enumerate() {
                let e = (k + 1) as i32;
                let r = ck - x1 + x1 * x2.powi(e);
                g[0] += 2.0 * r * (x2.powi(e) - 1.0);
                g[1] += 2.0 * r * x1 * f64::from(e) * x2.powi(e - 1);
            }
            g
        })
    );
    check_pair!(
        booth,
        booth_grad,
        booth_jvp,
        booth_hessian,
        booth_hvp,
        [[1.0, 3.0], [0.0, 0.0], [-2.5, 4.0]],
        Some(|[x1, x2]: [f64; 2]| {
            let (a, b) = (x1 + 2.0 * x2 - 7.0, 2.0 * x1 + x2 - 5.0);
            [2.0 * a + 4.0 * b, 4.0 * a + 2.0 * b]
        })
    );
    check_pair!(
        bukin_n6,
        bukin_n6_grad,
        bukin_n6_jvp,
        bukin_n6_hessian,
        bukin_n6_hvp,
        [[-8.0, 0.5], [-12.0, 1.0], [3.0, -2.0]],
        None
    );
    check_pair!(
        easom,
        easom_grad,
        easom_jvp,
        easom_hessian,
        easom_hvp,
        [[3.0, 3.3], [2.0, 4.0], [PI, PI]],
        Some(|[x1, x2]: [f64; 2]| {
            let e = (-(x1 - PI).powi(2) - (x2 - PI).powi(2)).exp();
            [
                x2.cos() * e * (x1.sin() + 2.0 * (x1 - PI) * x1.cos()),
                x1.cos() * e * (x2.sin() + 2.0 * (x2 - PI) * x2.cos()),
            ]
        })
    );
    check_pair!(
        eggholder,
        eggholder_grad,
        eggholder_jvp,
        eggholder_hessian,
        eggholder_hvp,
        [[512.0, 404.2319], [100.0, -50.0], [-300.0, 200.0]],
        None
    );
    check_pair!(
        goldsteinprice,
        goldsteinprice_grad,
        goldsteinprice_jvp,
        goldsteinprice_hessian,
        goldsteinprice_hvp,
        [[0.1, -0.9], [0.5, 0.25], [-1.5, 1.0]],
        None
    );
    check_pair!(
        holder_table,
        holder_table_grad,
        holder_table_jvp,
        holder_table_hessian,
        holder_table_hvp,
        [[8.0, 9.6], [1.0, 2.0], [-5.0, 7.0]],
        None
    );
    check_pair!(
        levy_n13,
        levy_n13_grad,
        levy_n13_jvp,
        levy_n13_hessian,
        levy_n13_hvp,
        [[1.0, 1.0], [0.3, -2.0], [4.0, 2.5]],
        None
    );
    check_pair!(
        matyas,
        matyas_grad,
        matyas_jvp,
        matyas_hessian,
        matyas_hvp,
        [[0.0, 0.0], [1.5, -2.0]],
        Some(|[x1, x2]: [f64; 2]| [0.52 * x1 - 0.48 * x2, 0.52 * x2 - 0.48 * x1])
    );
    check_pair!(
        mccormick,
        mccormick_grad,
        mccormick_jvp,
        mccormick_hessian,
        mccormick_hvp,
        [[-0.54719, -1.54719], [1.0, 2.0]],
        Some(|[x1, x2]: [f64; 2]| {
            let c = (x1 + x2).cos();
            [c + 2.0 * (x1 - x2) - 1.5, c - 2.0 * (x1 - x2) + 2.5]
        })
    );
    check_pair!(
        picheny,
        picheny_grad,
        picheny_jvp,
        picheny_hessian,
        picheny_hvp,
        [[0.55, 0.3], [0.2, 0.8], [0.9, 0.1]],
        None
    );
    check_pair!(
        schaffer_n2,
        schaffer_n2_grad,
        schaffer_n2_jvp,
        schaffer_n2_hessian,
        schaffer_n2_hvp,
        [[1.0, 0.5], [-3.0, 2.0], [10.0, 7.0]],
        None
    );
    check_pair!(
        schaffer_n4,
        schaffer_n4_grad,
        schaffer_n4_jvp,
        schaffer_n4_hessian,
        schaffer_n4_hvp,
        [[1.0, 0.5], [-3.0, 2.0], [0.0, 1.25313]],
        None
    );
    check_pair!(
        threehumpcamel,
        threehumpcamel_grad,
        threehumpcamel_jvp,
        threehumpcamel_hessian,
        threehumpcamel_hvp,
        [[0.0, 0.0], [1.0, -0.5], [-1.7, 0.9]],
        Some(|[x1, x2]: [f64; 2]| [4.0 * x1 - 4.2 * x1.powi(3) + x1.powi(5) + x2, x1 + 2.0 * x2])
    );
}

/// Checks a test function of a slice: value, gradient against finite differences and `want`,
/// tangent, Hessian against central differences of `want`, Hessian-vector product.
macro_rules! check_slice {
    ($f:ident, $grad:ident, $jvp:ident, $hessian:ident, $hvp:ident, $x:expr, $want:expr) => {{
        let x: Vec<f64> = $x;
        let want = $want;
        let (value, g) = $grad(&x);
        assert_eq!(value, $f(&x), "{}: value", stringify!($f));
        assert_near(
            concat!(stringify!($f), " gradient"),
            &g,
            &fd_gradient(|q| $f(q), &x),
            FD,
        );
        assert_near(
            concat!(stringify!($f), " closed form"),
            &g,
            &want(&x),
            EXACT,
        );
        let v = direction(x.len());
        let (vj, t) = $jvp(&x, &v);
        assert_eq!(vj, value);
        assert!((t - dot(&g, &v)).abs() <= 1e-10 * t.abs().max(1.0));
        let (_, hg, hess) = $hessian(&x);
        assert_near(concat!(stringify!($f), " hessian gradient"), &hg, &g, EXACT);
        check_hessian(concat!(stringify!($f), " hessian"), &hess, want, &x);
        let (_, _, hv) = $hvp(&x, &v);
        let n = x.len();
        let want_hv: Vec<f64> = (0..n).map(|i| dot(&hess[i * n..(i + 1) * n], &v)).collect();
        assert_near(concat!(stringify!($f), " hvp"), &hv, &want_hv, 1e-9);
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let (_, g32) = $grad(&x32);
        let x64: Vec<f64> = x32.iter().copied().map(f64::from).collect();
        let g32: Vec<f64> = g32.into_iter().map(f64::from).collect();
        assert_near(
            concat!(stringify!($f), " f32 gradient"),
            &g32,
            &want(&x64),
            1e-3,
        );
    }};
}

/// ∂/∂xᵢ of ackley: argmin-testfunctions' `ackley_abc_derivative` with a = 20, b = 0.2, c = 2π.
fn ackley_gradient_by_hand(x: &[f64]) -> Vec<f64> {
    let (a, b, c) = (20.0, 0.2, 2.0 * PI);
    let d = x.len() as f64;
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let f1 = c * (x.iter().map(|&v| (c * v).cos()).sum::<f64>() / d).exp() / d;
    let f2 = a * b * (-b * norm / d.sqrt()).exp() / (d.sqrt() * norm);
    x.iter().map(|&v| (c * v).sin() * f1 + v * f2).collect()
}

/// ∂/∂xᵢ of Levy's function, with wᵢ = 1 + (xᵢ − 1)/4.
fn levy_gradient_by_hand(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let w: Vec<f64> = x.iter().map(|v| 1.0 + (v - 1.0) / 4.0).collect();
    let mut g = vec![0.0; n];
    g[0] += 2.0 * (PI * w[0]).sin() * (PI * w[0]).cos() * PI / 4.0;
    for i in 1..n - 1 {
        let s = (PI * w[i] + 1.0).sin();
        let dw = 2.0 * (w[i] - 1.0) * (1.0 + 10.0 * s * s)
            + (w[i] - 1.0).powi(2) * 20.0 * s * (PI * w[i] + 1.0).cos() * PI;
        g[i] += dw / 4.0;
    }
    let l = w[n - 1];
    let s = (2.0 * PI * l).sin();
    let dw = 2.0 * (l - 1.0) * (1.0 + s * s)
        + (l - 1.0).powi(2) * 2.0 * s * (2.0 * PI * l).cos() * 2.0 * PI;
    g[n - 1] += dw / 4.0;
    g
}

#[test]
fn argmin_functions_of_a_slice() {
    check_slice!(
        ackley,
        ackley_grad,
        ackley_jvp,
        ackley_hessian,
        ackley_hvp,
        vec![0.3, -0.7, 1.1],
        ackley_gradient_by_hand
    );
    check_slice!(
        levy,
        levy_grad,
        levy_jvp,
        levy_hessian,
        levy_hvp,
        vec![0.3, -0.7, 1.1, 2.4],
        levy_gradient_by_hand
    );
    check_slice!(
        rastrigin,
        rastrigin_grad,
        rastrigin_jvp,
        rastrigin_hessian,
        rastrigin_hvp,
        vec![0.3, -0.7, 1.1, 2.4],
        |x: &[f64]| -> Vec<f64> {
            x.iter()
                .map(|&v| 2.0 * v + 10.0 * 2.0 * PI * (2.0 * PI * v).sin())
                .collect()
        }
    );
    check_slice!(
        sphere,
        sphere_grad,
        sphere_jvp,
        sphere_hessian,
        sphere_hvp,
        vec![0.3, -0.7, 1.1, 2.4, -5.0],
        |x: &[f64]| -> Vec<f64> { x.iter().map(|&v| 2.0 * v).collect() }
    );
    check_slice!(
        styblinski_tang,
        styblinski_tang_grad,
        styblinski_tang_jvp,
        styblinski_tang_hessian,
        styblinski_tang_hvp,
        vec![-2.903534, 0.5, 3.0],
        |x: &[f64]| -> Vec<f64> {
            x.iter()
                .map(|&v| 2.0 * v.powi(3) - 16.0 * v + 2.5)
                .collect()
        }
    );
    // ackley_abc in its own parameters a, b, c as well.
    let x = [0.3, -0.7, 1.1];
    let (a, b, c) = (20.0, 0.2, 2.0 * PI);
    let (value, dx, da, db, dc) = ackley_abc_grad(&x, a, b, c);
    assert_eq!(value, ackley_abc(&x, a, b, c));
    let fd = fd_gradient(
        |p| ackley_abc(&p[..3], p[3], p[4], p[5]),
        &[x[0], x[1], x[2], a, b, c],
    );
    let mut got = dx.clone();
    got.extend([da, db, dc]);
    assert_near("ackley_abc gradient", &got, &fd, FD);
    // At the minimum the gradient is 0 (0 · ∞ = 0 in the chain rule through the sqrt).
    let (value, g) = ackley_grad(&[0.0, 0.0]);
    assert!(value.abs() < 1e-12);
    assert_eq!(g, vec![0.0, 0.0]);
}

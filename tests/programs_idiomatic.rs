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
//!   `schaffer_n4`, `sphere`, `styblinski_tang` and `threehumpcamel`. One spelling differs
//!   from argmin's, because the macro refuses it: `picheny` binds `param.map(..)` before
//!   destructuring it. argmin's `zero` (a constant) is checked too;
//! - statrs' log-densities (github.com/statrs-dev/statrs, `src/distribution`): the Lanczos
//!   `ln_gamma` of `src/function/gamma.rs` (a coefficient table folded through
//!   `iter().enumerate().skip(1)`), checked against digamma and trigamma at 1 and 1/2 and the
//!   reflection formula, and `Normal`, `Gamma`, `Beta` and `StudentsT` as structs with a `&self`
//!   `ln_pdf` calling `ln_gamma`, differentiated in the point and in `self`. Where the macro
//!   refuses statrs' own spelling, a comment says what statrs writes;
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
//! - composite Simpson's rule by `skip`/`step_by`;
//! - the lag-1 sample autocorrelation (Box and Jenkins, *Time Series Analysis*, §2.1.4) by
//!   `zip(x.iter().skip(1))`, the geometric mean and a plain product by `product` (exact where an
//!   entry is 0), and the Euclidean norm accumulated by a `hypot` fold;
//! - log-sum-exp generic over `T: Float + Sum`, at `f64` and `f32`;
//! - polar to Cartesian coordinates, two outputs (`f_jacobian`, `f_vjp`, `f_jvp`), and a caller
//!   that destructures them;
//! - a recursive pairwise sum of squares (Higham, §4.2) through its own gradient;
//! - a pendulum's energy as a `&self` method reading an associated `const`, and a linear model
//!   in `f32` as a struct differentiated in `self`;
//! - a two-unit `tanh` network whose weights are fields of fields (`net.layer.w`), by
//!   `chunks_exact().zip().enumerate()` and unrolled.
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
    clippy::unreadable_literal,
    // statrs' `(self.freedom + 1.0) / 2.0`.
    clippy::manual_midpoint
)]

use std::f64::consts::PI;
use std::iter::Sum;

use autodiff::num_traits::{Float, FromPrimitive};
use autodiff::{differentiate, softplus};

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
    let num1 = T::from_f64(1.0).unwrap();
    let n = T::from_usize(param.len()).unwrap();
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
        T::from_f64(20.0).unwrap(),
        T::from_f64(0.2).unwrap(),
        T::from_f64(2.0 * PI).unwrap(),
    )
}

#[differentiate(reverse, forward, hessian)]
fn beale<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    (T::from_f64(1.5).unwrap() - x1 + x1 * x2).powi(2)
        + (T::from_f64(2.25).unwrap() - x1 + x1 * (x2.powi(2))).powi(2)
        + (T::from_f64(2.625).unwrap() - x1 + x1 * (x2.powi(3))).powi(2)
}

#[differentiate(reverse, forward, hessian)]
fn booth<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let n2 = T::from_f64(2.0).unwrap();
    let n5 = T::from_f64(5.0).unwrap();
    let n7 = T::from_f64(7.0).unwrap();

    let [x1, x2] = *param;
    (x1 + n2 * x2 - n7).powi(2) + (n2 * x1 + x2 - n5).powi(2)
}

#[differentiate(reverse, forward, hessian)]
fn bukin_n6<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let n001 = T::from_f64(0.01).unwrap();
    let n10 = T::from_f64(10.0).unwrap();
    let n100 = T::from_f64(100.0).unwrap();
    n100 * (x2 - n001 * x1.powi(2)).abs().sqrt() + n001 * (x1 + n10).abs()
}

#[differentiate(reverse, forward, hessian)]
fn easom<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let pi = T::from_f64(PI).unwrap();
    -x1.cos() * x2.cos() * (-(x1 - pi).powi(2) - (x2 - pi).powi(2)).exp()
}

#[differentiate(reverse, forward, hessian)]
fn eggholder<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let n47 = T::from_f64(47.0).unwrap();
    -(x2 + n47)
        * (x2 + x1 / T::from_f64(2.0).unwrap() + n47)
            .abs()
            .sqrt()
            .sin()
        - x1 * (x1 - (x2 + n47)).abs().sqrt().sin()
}

#[differentiate(reverse, forward, hessian)]
fn goldsteinprice<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let n1 = T::from_f64(1.0).unwrap();
    let n2 = T::from_f64(2.0).unwrap();
    let n3 = T::from_f64(3.0).unwrap();
    let n6 = T::from_f64(6.0).unwrap();
    let n12 = T::from_f64(12.0).unwrap();
    let n14 = T::from_f64(14.0).unwrap();
    let n18 = T::from_f64(18.0).unwrap();
    let n19 = T::from_f64(19.0).unwrap();
    let n27 = T::from_f64(27.0).unwrap();
    let n30 = T::from_f64(30.0).unwrap();
    let n32 = T::from_f64(32.0).unwrap();
    let n36 = T::from_f64(36.0).unwrap();
    let n48 = T::from_f64(48.0).unwrap();
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
    let pi = T::from_f64(PI).unwrap();
    let n1 = T::from_f64(1.0).unwrap();
    -(x1.sin() * x2.cos() * (n1 - (x1.powi(2) + x2.powi(2)).sqrt() / pi).abs().exp()).abs()
}

#[differentiate(reverse, forward, hessian)]
fn levy<T>(param: &[T]) -> T
where
    T: Float + FromPrimitive + Sum,
{
    let plen = param.len();
    assert!(plen >= 2);

    let n1 = T::from_f64(1.0).unwrap();
    let n2 = T::from_f64(2.0).unwrap();
    let n4 = T::from_f64(4.0).unwrap();
    let n10 = T::from_f64(10.0).unwrap();
    let pi = T::from_f64(PI).unwrap();

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

    let n1 = T::from_f64(1.0).unwrap();
    let n2 = T::from_f64(2.0).unwrap();
    let n3 = T::from_f64(3.0).unwrap();
    let pi = T::from_f64(PI).unwrap();

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

    let n026 = T::from_f64(0.26).unwrap();
    let n048 = T::from_f64(0.48).unwrap();

    n026 * (x1.powi(2) + x2.powi(2)) - n048 * x1 * x2
}

#[differentiate(reverse, forward, hessian)]
fn mccormick<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    (x1 + x2).sin() + (x1 - x2).powi(2) - T::from_f64(1.5).unwrap() * x1
        + T::from_f64(2.5).unwrap() * x2
        + T::from_f64(1.0).unwrap()
}

#[differentiate(reverse, forward, hessian)]
fn picheny<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let n1 = T::from_f64(1.0).unwrap();
    let n2 = T::from_f64(2.0).unwrap();
    let n3 = T::from_f64(3.0).unwrap();
    let n4 = T::from_f64(4.0).unwrap();
    let n6 = T::from_f64(6.0).unwrap();
    let n12 = T::from_f64(12.0).unwrap();
    let n14 = T::from_f64(14.0).unwrap();
    let n18 = T::from_f64(18.0).unwrap();
    let n19 = T::from_f64(19.0).unwrap();
    let n27 = T::from_f64(27.0).unwrap();
    let n30 = T::from_f64(30.0).unwrap();
    let n32 = T::from_f64(32.0).unwrap();
    let n36 = T::from_f64(36.0).unwrap();
    let n48 = T::from_f64(48.0).unwrap();

    let y = param.map(|x| n4 * x - n2);
    let [x1, x2] = y;

    T::from_f64(1.0 / 2.427).unwrap()
        * (((n1
            + (x1 + x2 + n1).powi(2)
                * (n19 - n14 * (x1 + x2) + n3 * (x1.powi(2) + x2.powi(2)) + n6 * x1 * x2))
            * (n30
                + (n2 * x1 - n3 * x2).powi(2)
                    * (n18 - n32 * x1 + n12 * x1.powi(2) + n48 * x2 - n36 * x1 * x2
                        + n27 * x2.powi(2))))
        .log10()
            - T::from_f64(8.693).unwrap())
}

#[differentiate(reverse, forward, hessian)]
fn rastrigin_a<T>(param: &[T], a: T) -> T
where
    T: Float + FromPrimitive + Sum,
{
    a * T::from_usize(param.len()).unwrap()
        + param
            .iter()
            .map(|&x| x.powi(2) - a * (T::from_f64(2.0 * PI).unwrap() * x).cos())
            .sum()
}

#[differentiate(reverse, forward, hessian)]
fn rastrigin<T>(param: &[T]) -> T
where
    T: Float + FromPrimitive + Sum,
{
    rastrigin_a(param, T::from_f64(10.0).unwrap())
}

#[differentiate(reverse, forward, hessian)]
fn schaffer_n2<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;

    let n0_001 = T::from_f64(0.001).unwrap();
    let n0_5 = T::from_f64(0.5).unwrap();
    let n1 = T::from_f64(1.0).unwrap();

    n0_5 + ((x1.powi(2) - x2.powi(2)).sin().powi(2) - n0_5)
        / (n1 + n0_001 * (x1.powi(2) + x2.powi(2))).powi(2)
}

#[differentiate(reverse, forward, hessian)]
fn schaffer_n4<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;
    let n05 = T::from_f64(0.5).unwrap();
    let n1 = T::from_f64(1.0).unwrap();
    let n0001 = T::from_f64(0.001).unwrap();
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
    T::from_f64(0.5).unwrap()
        * param
            .iter()
            .map(|x| {
                x.powi(4) - T::from_f64(16.0).unwrap() * x.powi(2) + T::from_f64(5.0).unwrap() * *x
            })
            .sum()
}

#[differentiate(reverse, forward, hessian)]
fn threehumpcamel<T>(param: &[T; 2]) -> T
where
    T: Float + FromPrimitive,
{
    let [x1, x2] = *param;

    T::from_f64(2.0).unwrap() * x1.powi(2) - T::from_f64(1.05).unwrap() * x1.powi(4)
        + x1.powi(6) / T::from_f64(6.0).unwrap()
        + x1 * x2
        + x2.powi(2)
}

#[differentiate(reverse, forward, hessian, graph)]
fn zero<T>(_param: &[T]) -> T
where
    T: Float + FromPrimitive,
{
    T::from_f64(0.0).unwrap()
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

// ---------------------------------------------------------------------------------------------
// 2. statrs' log-densities: the Lanczos `ln_gamma` and four distributions as structs
// ---------------------------------------------------------------------------------------------

/// `statrs::consts`.
mod consts {
    /// ln(π)
    pub const LN_PI: f64 = 1.1447298858494001741434273513530587116472948129153;
    /// ln(2 √(e / π))
    pub const LN_2_SQRT_E_OVER_PI: f64 = 0.6207822376352452223455184457816472122518527279025978;
    /// ln(√(2π))
    pub const LN_SQRT_2PI: f64 = 0.91893853320467274178032973640561763986139747363778;
}

/// `statrs::function::gamma`: `ln_gamma` as statrs writes it.
mod gamma {
    use super::consts;
    use autodiff::differentiate;
    use std::f64::consts as f64_consts;

    /// Auxiliary variable when evaluating the `gamma_ln` function
    const GAMMA_R: f64 = 10.900511;

    /// Computes the logarithm of the gamma function with an accuracy of 16 floating point
    /// digits (Pugh, *An Analysis of the Lanczos Gamma Approximation*, 2004, p. 116).
    #[differentiate(reverse, forward, hessian)]
    pub fn ln_gamma(x: f64) -> f64 {
        // statrs keeps this table in `const GAMMA_DK: &[f64]`, which the macro neither
        // iterates nor indexes.
        let gamma_dk = [
            2.48574089138753565546e-5,
            1.05142378581721974210,
            -3.45687097222016235469,
            4.51227709466894823700,
            -2.98285225323576655721,
            1.05639711577126713077,
            -1.95428773191645869583e-1,
            1.70970543404441224307e-2,
            -5.71926117404305781283e-4,
            4.63399473359905636708e-6,
            -2.71994908488607703910e-9,
        ];
        if x < 0.5 {
            let s = gamma_dk
                .iter()
                .enumerate()
                .skip(1)
                .fold(gamma_dk[0], |s, (i, d)| s + d / (i as f64 - x));

            consts::LN_PI
                - (f64_consts::PI * x).sin().ln()
                - s.ln()
                - consts::LN_2_SQRT_E_OVER_PI
                - (0.5 - x) * ((0.5 - x + GAMMA_R) / f64_consts::E).ln()
        } else {
            let s = gamma_dk
                .iter()
                .enumerate()
                .skip(1)
                .fold(gamma_dk[0], |s, (i, d)| s + d / (x + i as f64 - 1.0));

            s.ln()
                + consts::LN_2_SQRT_E_OVER_PI
                + (x - 0.5) * ((x - 0.5 + GAMMA_R) / f64_consts::E).ln()
        }
    }
}

/// The Euler–Mascheroni constant γ = −ψ(1).
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

#[test]
fn statrs_ln_gamma_derivatives_are_digamma_and_trigamma() {
    use gamma::{ln_gamma, ln_gamma_grad, ln_gamma_hessian, ln_gamma_jvp};
    // ψ(1) = −γ, ψ(1/2) = −γ − 2 ln 2, ψ′(1) = π²/6, ψ′(1/2) = π²/2; below 1/2 the reflection
    // branch, ψ(x) = ψ(1 − x) − π cot(πx).
    let (value, d) = ln_gamma_grad(1.0);
    assert!(value.abs() < 1e-14);
    assert_near("digamma(1)", &[d], &[-EULER_GAMMA], 1e-12);
    let (_, d, h) = ln_gamma_hessian(1.0);
    assert_near("digamma(1)", &[d], &[-EULER_GAMMA], 1e-12);
    assert_near("trigamma(1)", &[h[0][0]], &[PI * PI / 6.0], 1e-9);
    let (value, d, h) = ln_gamma_hessian(0.5);
    assert_near("ln_gamma(1/2)", &[value], &[0.5 * PI.ln()], 1e-14);
    let psi_half = -EULER_GAMMA - 2.0 * 2.0_f64.ln();
    assert_near("digamma(1/2)", &[d], &[psi_half], 1e-12);
    assert_near("trigamma(1/2)", &[h[0][0]], &[PI * PI / 2.0], 1e-9);
    for x in [0.3, 0.1, 0.45, 2.5, 7.25, 30.0] {
        let (value, d) = ln_gamma_grad(x);
        assert_eq!(value, ln_gamma(x));
        let fd = fd_gradient(|p| ln_gamma(p[0]), &[x]);
        assert_near("digamma", &[d], &fd, FD);
        let (_, t) = ln_gamma_jvp(x, 1.0);
        assert_near("digamma by tangent", &[t], &[d], EXACT);
        let (_, _, h) = ln_gamma_hessian(x);
        check_hessian(
            "trigamma",
            &[h[0][0]],
            |p| vec![ln_gamma_grad(p[0]).1],
            &[x],
        );
        if x < 0.5 {
            let (_, d_reflected) = ln_gamma_grad(1.0 - x);
            let want = d_reflected - PI / (PI * x).tan();
            assert_near("reflection", &[d], &[want], 1e-10);
        }
    }
}

/// `statrs::distribution::Normal`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Normal {
    mean: f64,
    std_dev: f64,
}

/// `statrs::distribution::normal::ln_pdf_unchecked`.
#[differentiate(reverse, forward, hessian)]
fn ln_pdf_unchecked(x: f64, mean: f64, std_dev: f64) -> f64 {
    let d = (x - mean) / std_dev;
    (-0.5 * d * d) - consts::LN_SQRT_2PI - std_dev.ln()
}

impl Normal {
    #[differentiate(reverse, forward, hessian, wrt(self, x))]
    fn ln_pdf(&self, x: f64) -> f64 {
        // statrs passes `self.mean, self.std_dev` directly; the macro gives a field of `self`
        // passed to a call no derivative.
        let mean: f64 = self.mean;
        let std_dev: f64 = self.std_dev;
        ln_pdf_unchecked(x, mean, std_dev)
    }
}

/// `statrs::distribution::Gamma`, shape α and rate β.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Gamma {
    shape: f64,
    rate: f64,
}

impl Gamma {
    #[differentiate(reverse, forward, hessian, wrt(self, x))]
    fn ln_pdf(&self, x: f64) -> f64 {
        if x < 0.0 {
            f64::NEG_INFINITY
        } else if self.shape == 1.0 {
            self.rate.ln() - self.rate * x
        } else if x == f64::INFINITY {
            // statrs tests `x.is_infinite()`, which the macro refuses.
            f64::NEG_INFINITY
        } else {
            // statrs calls `gamma::ln_gamma(self.shape)`; see `Normal::ln_pdf`.
            let shape: f64 = self.shape;
            self.shape * self.rate.ln() + (self.shape - 1.0) * x.ln()
                - self.rate * x
                - gamma::ln_gamma(shape)
        }
    }
}

/// `statrs::distribution::Beta`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Beta {
    shape_a: f64,
    shape_b: f64,
}

impl Beta {
    #[allow(clippy::manual_range_contains)]
    #[differentiate(reverse, forward, hessian, wrt(self, x))]
    fn ln_pdf(&self, x: f64) -> f64 {
        // statrs tests `!(0.0..=1.0).contains(&x)`, which the macro refuses.
        if x < 0.0 || x > 1.0 {
            f64::NEG_INFINITY
        } else if self.shape_a == 1.0 && self.shape_b == 1.0 {
            0.0
        } else {
            // statrs passes `self.shape_a + self.shape_b`, `self.shape_a`, `self.shape_b`;
            // see `Normal::ln_pdf`.
            let shape_a: f64 = self.shape_a;
            let shape_b: f64 = self.shape_b;
            let aa = gamma::ln_gamma(shape_a + shape_b)
                - gamma::ln_gamma(shape_a)
                - gamma::ln_gamma(shape_b);
            let bb = if x == 0.0 {
                if self.shape_a < 1.0 {
                    f64::INFINITY
                } else if self.shape_a == 1.0 {
                    0.0
                } else {
                    f64::NEG_INFINITY
                }
            } else {
                (self.shape_a - 1.0) * x.ln()
            };
            let cc = if x == 1.0 {
                if self.shape_b < 1.0 {
                    f64::INFINITY
                } else if self.shape_b == 1.0 {
                    0.0
                } else {
                    f64::NEG_INFINITY
                }
            } else {
                (self.shape_b - 1.0) * (1.0 - x).ln()
            };
            aa + bb + cc
        }
    }
}

/// `statrs::distribution::StudentsT`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct StudentsT {
    location: f64,
    scale: f64,
    freedom: f64,
}

impl StudentsT {
    #[differentiate(reverse, forward, hessian, wrt(self, x))]
    fn ln_pdf(&self, x: f64) -> f64 {
        if x.abs() == f64::INFINITY {
            // statrs tests `x.is_infinite()`, which the macro refuses.
            f64::NEG_INFINITY
        } else if self.freedom >= 1e8 {
            // statrs passes `self.location, self.scale`; see `Normal::ln_pdf`.
            let location: f64 = self.location;
            let scale: f64 = self.scale;
            ln_pdf_unchecked(x, location, scale)
        } else {
            let d = (x - self.location) / self.scale;
            // statrs passes `(self.freedom + 1.0) / 2.0`; see `Normal::ln_pdf`.
            let freedom: f64 = self.freedom;
            gamma::ln_gamma((freedom + 1.0) / 2.0)
                - 0.5 * ((self.freedom + 1.0) * (1.0 + d * d / self.freedom).ln())
                - gamma::ln_gamma(freedom / 2.0)
                - 0.5 * (self.freedom * PI).ln()
                - self.scale.ln()
        }
    }
}

#[test]
fn statrs_normal_ln_pdf() {
    for (mean, std_dev, x) in [(0.0, 1.0, 0.3), (1.5, 0.4, 2.2), (-3.0, 7.0, 10.0)] {
        let dist = Normal { mean, std_dev };
        let (value, d_dist, dx) = dist.ln_pdf_grad(x);
        assert_eq!(value, dist.ln_pdf(x));
        let z = (x - mean) / std_dev;
        let by_hand = [z / std_dev, (z * z - 1.0) / std_dev, -z / std_dev];
        assert_near(
            "normal gradient",
            &[d_dist.mean, d_dist.std_dev, dx],
            &by_hand,
            EXACT,
        );
        let tangent = Normal {
            mean: 0.3,
            std_dev: -0.2,
        };
        let (_, t) = dist.ln_pdf_jvp(&tangent, x, 0.5);
        let want = dot(&by_hand, &[0.3, -0.2, 0.5]);
        assert!((t - want).abs() <= 1e-12 * want.abs().max(1.0));
        let grad = |p: &[f64]| -> Vec<f64> {
            let z = (p[2] - p[0]) / p[1];
            vec![z / p[1], (z * z - 1.0) / p[1], -z / p[1]]
        };
        let (_, _, _, hess) = dist.ln_pdf_hessian(x);
        check_hessian("normal hessian", &hess, grad, &[mean, std_dev, x]);
    }
}

/// Checks a distribution's `ln_pdf` gradient in its parameters and the point against finite
/// differences, forward mode against it, and the Hessian against differences of the gradient.
macro_rules! check_ln_pdf {
    ($name:literal, $dist:expr, $x:expr, $to:expr, $from:expr) => {{
        let dist = $dist;
        let x: f64 = $x;
        let to = $to;
        let from = $from;
        let (value, d_dist, dx) = dist.ln_pdf_grad(x);
        assert_eq!(value, dist.ln_pdf(x), "{}: value", $name);
        let mut p: Vec<f64> = to(&dist);
        p.push(x);
        let f = |q: &[f64]| from(&q[..q.len() - 1]).ln_pdf(q[q.len() - 1]);
        let mut got: Vec<f64> = to(&d_dist);
        got.push(dx);
        assert_near(concat!($name, " gradient"), &got, &fd_gradient(f, &p), FD);
        let v = direction(p.len());
        let (_, t) = dist.ln_pdf_jvp(&from(&v[..v.len() - 1]), x, v[v.len() - 1]);
        assert!(
            (t - dot(&got, &v)).abs() <= 1e-10 * t.abs().max(1.0),
            "{}: tangent {t} vs {}",
            $name,
            dot(&got, &v)
        );
        let grad = |q: &[f64]| -> Vec<f64> {
            let (_, d, dx) = from(&q[..q.len() - 1]).ln_pdf_grad(q[q.len() - 1]);
            let mut g = to(&d);
            g.push(dx);
            g
        };
        let (_, _, _, hess) = dist.ln_pdf_hessian(x);
        check_hessian(concat!($name, " hessian"), &hess, grad, &p);
    }};
}

#[test]
fn statrs_gamma_beta_and_students_t_ln_pdf() {
    for (shape, rate, x) in [(2.5, 1.5, 0.7), (0.6, 3.0, 0.2), (9.0, 0.5, 14.0)] {
        check_ln_pdf!(
            "gamma",
            Gamma { shape, rate },
            x,
            |d: &Gamma| vec![d.shape, d.rate],
            |p: &[f64]| Gamma {
                shape: p[0],
                rate: p[1],
            }
        );
        // ∂/∂x = (α − 1)/x − β, ∂/∂β = α/β − x.
        let (_, d, dx) = Gamma { shape, rate }.ln_pdf_grad(x);
        assert_near(
            "gamma closed form",
            &[dx, d.rate],
            &[(shape - 1.0) / x - rate, shape / rate - x],
            EXACT,
        );
    }
    for (shape_a, shape_b, x) in [(2.0, 5.0, 0.3), (0.5, 0.5, 0.9), (3.5, 1.2, 0.05)] {
        check_ln_pdf!(
            "beta",
            Beta { shape_a, shape_b },
            x,
            |d: &Beta| vec![d.shape_a, d.shape_b],
            |p: &[f64]| Beta {
                shape_a: p[0],
                shape_b: p[1],
            }
        );
        let (_, _, dx) = Beta { shape_a, shape_b }.ln_pdf_grad(x);
        let want = (shape_a - 1.0) / x - (shape_b - 1.0) / (1.0 - x);
        assert_near("beta closed form", &[dx], &[want], EXACT);
    }
    for (location, scale, freedom, x) in [(0.0, 1.0, 3.0, 0.4), (2.0, 0.5, 12.5, -1.0)] {
        check_ln_pdf!(
            "students_t",
            StudentsT {
                location,
                scale,
                freedom,
            },
            x,
            // `f_hessian` orders the fields as the body first reads them.
            |d: &StudentsT| vec![d.freedom, d.location, d.scale],
            |p: &[f64]| StudentsT {
                freedom: p[0],
                location: p[1],
                scale: p[2],
            }
        );
        let dist = StudentsT {
            location,
            scale,
            freedom,
        };
        let (_, _, dx) = dist.ln_pdf_grad(x);
        let d = (x - location) / scale;
        let want = -(freedom + 1.0) * d / (scale * (freedom + d * d));
        assert_near("students_t closed form", &[dx], &[want], EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Losses and statistics by iterator chains
// ---------------------------------------------------------------------------------------------

/// Mean logistic loss of a linear model, `softplus(z) − y z` with z = w·x + b, over rows of
/// features stored one after another.
#[differentiate(reverse, forward, hessian, wrt(w, b))]
fn logistic_loss(w: &[f64], b: f64, xs: &[f64], ys: &[f64]) -> f64 {
    xs.chunks_exact(w.len())
        .zip(ys)
        .map(|(x, &y)| {
            let z = x.iter().zip(w).map(|(xi, wi)| xi * wi).sum::<f64>() + b;
            softplus(z) - y * z
        })
        .sum::<f64>()
        / ys.len() as f64
}

/// A smooth maximum, (1/β) log Σ exp(β xᵢ), shifted by the largest entry.
#[differentiate(reverse, forward, hessian, wrt(xs))]
fn smooth_max(xs: &[f64], beta: f64) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    m + xs.iter().map(|&x| (beta * (x - m)).exp()).sum::<f64>().ln() / beta
}

const LOGISTIC_X: [f64; 12] = [
    0.5, -1.2, 0.3, 1.0, 0.2, -0.7, -0.4, 0.9, 1.5, -0.3, -0.8, 0.1,
];
const LOGISTIC_Y: [f64; 4] = [1.0, 0.0, 1.0, 0.0];

#[test]
fn logistic_loss_and_smooth_max() {
    let w = [0.4, -0.3, 0.8];
    let b = 0.1;
    let (value, dw, db) = logistic_loss_grad(&w, b, &LOGISTIC_X, &LOGISTIC_Y);
    assert_eq!(value, logistic_loss(&w, b, &LOGISTIC_X, &LOGISTIC_Y));
    // ∂/∂w = (1/n) Σ (σ(z) − y) x, ∂/∂b = (1/n) Σ (σ(z) − y).
    let grad = |p: &[f64]| -> Vec<f64> {
        let mut g = vec![0.0; 4];
        for (x, y) in LOGISTIC_X.chunks_exact(3).zip(LOGISTIC_Y) {
            let z = dot(x, &p[..3]) + p[3];
            let r = (1.0 / (1.0 + (-z).exp()) - y) / 4.0;
            for j in 0..3 {
                g[j] += r * x[j];
            }
            g[3] += r;
        }
        g
    };
    let p = [w[0], w[1], w[2], b];
    let mut got = dw.clone();
    got.push(db);
    assert_near("logistic gradient", &got, &grad(&p), EXACT);
    let v = direction(4);
    let (_, t) = logistic_loss_jvp(&w, &v[..3], b, v[3], &LOGISTIC_X, &LOGISTIC_Y);
    assert!((t - dot(&got, &v)).abs() < 1e-12);
    let (_, _, _, hess) = logistic_loss_hessian(&w, b, &LOGISTIC_X, &LOGISTIC_Y);
    check_hessian("logistic hessian", &hess, grad, &p);

    for beta in [1.0, 4.0] {
        let xs = [0.3, -1.0, 2.0, 1.7];
        let (value, g) = smooth_max_grad(&xs, beta);
        assert_eq!(value, smooth_max(&xs, beta));
        // The gradient is softmax(β x).
        let softmax = |x: &[f64]| -> Vec<f64> {
            let total: f64 = x.iter().map(|v| (beta * v).exp()).sum();
            x.iter().map(|v| (beta * v).exp() / total).collect()
        };
        assert_near("smooth max gradient", &g, &softmax(&xs), EXACT);
        let v = direction(4);
        let (_, t) = smooth_max_jvp(&xs, &v, beta);
        assert!((t - dot(&g, &v)).abs() < 1e-12);
        let (_, _, hess) = smooth_max_hessian(&xs, beta);
        check_hessian("smooth max hessian", &hess, softmax, &xs);
    }
}

/// Cosine similarity of two embeddings.
#[differentiate(reverse, forward, hessian)]
fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm_a = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let norm_b = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm_a * norm_b)
}

/// Cosine similarity of `f32` embeddings accumulated in `f64`.
#[differentiate(reverse, forward)]
fn cosine_similarity_wide(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let norm_a: f64 = a.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let norm_b: f64 = b
        .iter()
        .map(|&x| {
            let x: f64 = x.into();
            x * x
        })
        .sum::<f64>()
        .sqrt();
    dot / (norm_a * norm_b)
}

/// ∂cos/∂a = b/(|a||b|) − cos · a/|a|², in `f64`.
fn cosine_gradient_by_hand(a: &[f64], b: &[f64]) -> Vec<f64> {
    let (na, nb) = (dot(a, a).sqrt(), dot(b, b).sqrt());
    let c = dot(a, b) / (na * nb);
    a.iter()
        .zip(b)
        .map(|(x, y)| y / (na * nb) - c * x / (na * na))
        .collect()
}

#[test]
fn cosine_similarity_in_f32_and_f64() {
    let a: [f32; 4] = [0.3, -1.2, 2.0, 0.7];
    let b: [f32; 4] = [1.1, 0.4, -0.5, 2.2];
    let a64 = a.map(f64::from);
    let b64 = b.map(f64::from);
    let (value, da, db) = cosine_similarity_grad(&a, &b);
    assert_eq!(value, cosine_similarity(&a, &b));
    let da: Vec<f64> = da.into_iter().map(f64::from).collect();
    let db: Vec<f64> = db.into_iter().map(f64::from).collect();
    assert_near("cosine da", &da, &cosine_gradient_by_hand(&a64, &b64), 1e-5);
    assert_near("cosine db", &db, &cosine_gradient_by_hand(&b64, &a64), 1e-5);
    let (_, t) = cosine_similarity_jvp(&a, &[1.0, 0.0, 0.0, 0.0], &b, &[0.0; 4]);
    assert_near("cosine tangent", &[f64::from(t)], &[da[0]], 1e-5);
    // The Hessian in (a, b), against differences of the closed-form gradient.
    let grad = |p: &[f64]| -> Vec<f64> {
        let mut g = cosine_gradient_by_hand(&p[..4], &p[4..]);
        g.extend(cosine_gradient_by_hand(&p[4..], &p[..4]));
        g
    };
    let (_, _, _, hess) = cosine_similarity_hessian(&a, &b);
    let hess: Vec<f64> = hess.into_iter().map(f64::from).collect();
    let mut p = a64.to_vec();
    p.extend(b64);
    let want = common::oracles::fd_hessian(grad, &p);
    assert_near("cosine hessian", &hess, &want, 1e-4);

    let (value, da, db) = cosine_similarity_wide_grad(&a, &b);
    assert_eq!(value, cosine_similarity_wide(&a, &b));
    let da: Vec<f64> = da.into_iter().map(f64::from).collect();
    let db: Vec<f64> = db.into_iter().map(f64::from).collect();
    assert_near("wide da", &da, &cosine_gradient_by_hand(&a64, &b64), 1e-6);
    assert_near("wide db", &db, &cosine_gradient_by_hand(&b64, &a64), 1e-6);
    let (_, t) = cosine_similarity_wide_jvp(&a, &[0.0, 1.0, 0.0, 0.0], &b, &[0.0; 4]);
    assert_near("wide tangent", &[t], &[da[1]], 1e-6);
}

/// The sample variance by Welford's one-pass update.
#[differentiate(reverse, forward, hessian)]
fn welford_variance(xs: &[f64]) -> f64 {
    let (mut mean, mut m2) = (0.0, 0.0);
    for (i, &x) in xs.iter().enumerate() {
        let delta = x - mean;
        mean += delta / (i + 1) as f64;
        m2 += delta * (x - mean);
    }
    m2 / (xs.len() - 1) as f64
}

/// Σ xᵢ² by pairwise (cascade) summation in a scratch buffer halved level by level.
#[differentiate(reverse, forward, hessian)]
fn pairwise_sum_of_squares(x: &[f64]) -> f64 {
    let n = x.len();
    let mut buf = vec![0.0; n];
    for i in 0..n {
        buf[i] = x[i] * x[i];
    }
    let mut len = n;
    while len > 1 {
        let half = len / 2;
        for i in 0..half {
            buf[i] = buf[2 * i] + buf[2 * i + 1];
        }
        if len % 2 == 1 {
            buf[half] = buf[len - 1];
            len = half + 1;
        } else {
            len = half;
        }
    }
    buf[0]
}

#[test]
fn welford_variance_and_pairwise_sum() {
    let xs = [2.0, 4.5, -1.0, 3.25, 0.5, 7.0, -2.5];
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let (value, g) = welford_variance_grad(&xs);
    let want_var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    assert_near("welford value", &[value], &[want_var], 1e-13);
    // ∂s²/∂xᵢ = 2 (xᵢ − x̄)/(n − 1); ∂²s²/∂xᵢ∂xⱼ = 2 (δᵢⱼ − 1/n)/(n − 1).
    let want: Vec<f64> = xs.iter().map(|x| 2.0 * (x - mean) / (n - 1.0)).collect();
    assert_near("welford gradient", &g, &want, EXACT);
    let v = direction(xs.len());
    let (_, t) = welford_variance_jvp(&xs, &v);
    assert!((t - dot(&g, &v)).abs() < 1e-12);
    let (_, _, hess) = welford_variance_hessian(&xs);
    let k = xs.len();
    let want_h: Vec<f64> = (0..k * k)
        .map(|ij| {
            let delta = if ij / k == ij % k { 1.0 } else { 0.0 };
            2.0 * (delta - 1.0 / n) / (n - 1.0)
        })
        .collect();
    assert_near("welford hessian", &hess, &want_h, EXACT);

    for len in [1, 2, 5, 8, 13] {
        let x: Vec<f64> = direction(len).iter().map(|v| 3.0 * v - 0.25).collect();
        let (value, g) = pairwise_sum_of_squares_grad(&x);
        assert_eq!(value, pairwise_sum_of_squares(&x));
        assert_near("pairwise value", &[value], &[dot(&x, &x)], 1e-14);
        let want: Vec<f64> = x.iter().map(|v| 2.0 * v).collect();
        assert_near("pairwise gradient", &g, &want, EXACT);
        let (_, t) = pairwise_sum_of_squares_jvp(&x, &x);
        assert_near("pairwise tangent", &[t], &[2.0 * dot(&x, &x)], EXACT);
        let (_, _, hess) = pairwise_sum_of_squares_hessian(&x);
        let want_h: Vec<f64> = (0..len * len)
            .map(|ij| if ij / len == ij % len { 2.0 } else { 0.0 })
            .collect();
        assert_near("pairwise hessian", &hess, &want_h, EXACT);
    }
}

/// Soft k-means: the expected squared distance of one point to centroids stored row by row,
/// under the soft assignment rₖ ∝ exp(−β ‖x − cₖ‖²).
#[differentiate(reverse, forward, hessian, wrt(centroids, x))]
fn soft_kmeans_objective(x: &[f64], centroids: &[f64], beta: f64) -> f64 {
    let d = x.len();
    let sq_dist = |c: &[f64]| -> f64 { c.iter().zip(x).map(|(ci, xi)| (xi - ci).powi(2)).sum() };
    let total: f64 = centroids
        .chunks_exact(d)
        .map(|c| (-beta * sq_dist(c)).exp())
        .sum();
    centroids
        .chunks_exact(d)
        .map(|c| {
            let e = sq_dist(c);
            (-beta * e).exp() / total * e
        })
        .sum()
}

#[test]
fn soft_kmeans_assignment() {
    let x = [0.4, -0.2];
    let centroids = [0.0, 0.0, 1.0, 0.5, -0.6, 0.8];
    let beta = 1.7;
    let (value, dx, dc) = soft_kmeans_objective_grad(&x, &centroids, beta);
    assert_eq!(value, soft_kmeans_objective(&x, &centroids, beta));
    let f = |p: &[f64]| soft_kmeans_objective(&p[..2], &p[2..], beta);
    let mut p = x.to_vec();
    p.extend(centroids);
    let mut got = dx.clone();
    got.extend(&dc);
    assert_near("soft k-means gradient", &got, &fd_gradient(f, &p), FD);
    // Moving the point and every centroid together changes nothing.
    assert!((dx[0] + dc.iter().step_by(2).sum::<f64>()).abs() < 1e-12);
    let v = direction(p.len());
    let (_, t) = soft_kmeans_objective_jvp(&x, &v[..2], &centroids, &v[2..], beta);
    assert!((t - dot(&got, &v)).abs() < 1e-12);
    let grad = |q: &[f64]| -> Vec<f64> {
        let (_, a, b) = soft_kmeans_objective_grad(&q[..2], &q[2..], beta);
        let mut g = a;
        g.extend(b);
        g
    };
    let (_, _, _, hess) = soft_kmeans_objective_hessian(&x, &centroids, beta);
    check_hessian("soft k-means hessian", &hess, grad, &p);
}

// ---------------------------------------------------------------------------------------------
// 4. Smoothing, quadrature and splines
// ---------------------------------------------------------------------------------------------

/// Holt's linear exponential smoothing: the sum of squared one-step-ahead errors.
#[differentiate(reverse, forward, hessian, wrt(alpha, beta))]
fn holt_sse(ys: &[f64], alpha: f64, beta: f64) -> f64 {
    let mut level = ys[0];
    let mut trend = ys[1] - ys[0];
    let mut sse = 0.0;
    for &y in ys.iter().skip(1) {
        let forecast = level + trend;
        let err = y - forecast;
        let new_level = alpha * y + (1.0 - alpha) * forecast;
        trend = beta * (new_level - level) + (1.0 - beta) * trend;
        level = new_level;
        sse += err * err;
    }
    sse
}

/// Simple exponential smoothing written as the weighted sum it is: the last `k` observations
/// weighted α(1 − α)ʲ, newest first.
#[differentiate(reverse, forward, hessian, wrt(alpha))]
fn ewma_last(xs: &[f64], alpha: f64, k: usize) -> f64 {
    xs.iter()
        .rev()
        .take(k)
        .enumerate()
        .map(|(j, &x)| alpha * (1.0 - alpha).powi(j as i32) * x)
        .sum()
}

const SALES: [f64; 10] = [12.0, 13.5, 13.1, 15.2, 16.0, 15.7, 17.9, 18.4, 18.0, 20.3];

#[test]
fn exponential_smoothing() {
    for (alpha, beta) in [(0.5, 0.3), (0.8, 0.1), (0.2, 0.6)] {
        let (value, da, db) = holt_sse_grad(&SALES, alpha, beta);
        assert_eq!(value, holt_sse(&SALES, alpha, beta));
        let f = |p: &[f64]| holt_sse(&SALES, p[0], p[1]);
        assert_near(
            "holt gradient",
            &[da, db],
            &fd_gradient(f, &[alpha, beta]),
            FD,
        );
        let (_, t) = holt_sse_jvp(&SALES, alpha, 0.3, beta, -0.7);
        assert!((t - (0.3 * da - 0.7 * db)).abs() < 1e-10 * t.abs().max(1.0));
        let grad = |p: &[f64]| {
            let (_, a, b) = holt_sse_grad(&SALES, p[0], p[1]);
            vec![a, b]
        };
        let (_, _, _, hess) = holt_sse_hessian(&SALES, alpha, beta);
        check_hessian("holt hessian", hess.as_flattened(), grad, &[alpha, beta]);
    }
    for alpha in [0.3, 0.75] {
        let k = 6;
        let (value, d) = ewma_last_grad(&SALES, alpha, k);
        assert_eq!(value, ewma_last(&SALES, alpha, k));
        // d/dα Σⱼ α(1−α)ʲ xⱼ = Σⱼ (1−α)ʲ⁻¹ (1 − (j+1) α) xⱼ.
        let want: f64 = SALES
            .iter()
            .rev()
            .take(k)
            .enumerate()
            .map(|(j, x)| (1.0 - alpha).powi(j as i32 - 1) * (1.0 - (j as f64 + 1.0) * alpha) * x)
            .sum();
        assert_near("ewma derivative", &[d], &[want], EXACT);
        let (_, _, h) = ewma_last_hessian(&SALES, alpha, k);
        check_hessian(
            "ewma hessian",
            h.as_flattened(),
            |p| vec![ewma_last_grad(&SALES, p[0], k).1],
            &[alpha],
        );
    }
}

/// Five-point Gauss–Legendre nodes on [−1, 1].
const GL_NODES: [f64; 5] = [
    -0.906_179_845_938_664,
    -0.538_469_310_105_683,
    0.0,
    0.538_469_310_105_683,
    0.906_179_845_938_664,
];
/// Their weights.
const GL_WEIGHTS: [f64; 5] = [
    0.236_926_885_056_189,
    0.478_628_670_499_366,
    0.568_888_888_888_889,
    0.478_628_670_499_366,
    0.236_926_885_056_189,
];

/// ∫₀ᵇ exp(−a t²) dt by five-point Gauss–Legendre quadrature.
#[differentiate(reverse, forward, hessian, wrt(a, b))]
fn gauss_legendre_gaussian(a: f64, b: f64, nodes: &[f64; 5], weights: &[f64; 5]) -> f64 {
    let half = b / 2.0;
    nodes
        .iter()
        .zip(weights)
        .map(|(&t, &w)| {
            let s = half * (t + 1.0);
            w * (-a * s * s).exp()
        })
        .sum::<f64>()
        * half
}

/// Composite Simpson's rule for ∫ₐᵇ sin(k t) dt on `N` intervals, odd and even nodes by
/// `step_by`.
#[differentiate(reverse, forward, hessian)]
fn simpson_sin(a: f64, b: f64, k: f64) -> f64 {
    const N: usize = 8;
    let h = (b - a) / N as f64;
    let f = |t: f64| (k * t).sin();
    let odd: f64 = (1..N).step_by(2).map(|i| f(a + i as f64 * h)).sum();
    let even: f64 = (2..N).step_by(2).map(|i| f(a + i as f64 * h)).sum();
    h / 3.0 * (f(a) + 4.0 * odd + 2.0 * even + f(b))
}

#[test]
fn quadrature_rules() {
    for (a, b) in [(1.0, 0.8), (0.3, 2.0)] {
        let (value, da, db) = gauss_legendre_gaussian_grad(a, b, &GL_NODES, &GL_WEIGHTS);
        assert_eq!(value, gauss_legendre_gaussian(a, b, &GL_NODES, &GL_WEIGHTS));
        let f = |p: &[f64]| gauss_legendre_gaussian(p[0], p[1], &GL_NODES, &GL_WEIGHTS);
        assert_near(
            "gauss-legendre gradient",
            &[da, db],
            &fd_gradient(f, &[a, b]),
            FD,
        );
        // The rule is near exact: d/db ≈ exp(−a b²), d/da ≈ −∫ t² exp(−a t²) dt.
        assert!((db - (-a * b * b).exp()).abs() < 1e-4);
        let (_, _, _, hess) = gauss_legendre_gaussian_hessian(a, b, &GL_NODES, &GL_WEIGHTS);
        let grad = |p: &[f64]| {
            let (_, x, y) = gauss_legendre_gaussian_grad(p[0], p[1], &GL_NODES, &GL_WEIGHTS);
            vec![x, y]
        };
        check_hessian("gauss-legendre hessian", hess.as_flattened(), grad, &[a, b]);
    }
    for (a, b, k) in [(0.0, 1.0, 2.0), (-0.5, 2.5, 0.7)] {
        let (value, da, db, dk) = simpson_sin_grad(a, b, k);
        assert_eq!(value, simpson_sin(a, b, k));
        let f = |p: &[f64]| simpson_sin(p[0], p[1], p[2]);
        assert_near(
            "simpson gradient",
            &[da, db, dk],
            &fd_gradient(f, &[a, b, k]),
            FD,
        );
        // Near the exact integral's: ∂/∂a = −sin(ka), ∂/∂b = sin(kb).
        assert!((da + (k * a).sin()).abs() < 1e-3 && (db - (k * b).sin()).abs() < 1e-3);
        let (_, t) = simpson_sin_jvp(a, 0.2, b, -0.1, k, 0.5);
        assert!((t - (0.2 * da - 0.1 * db + 0.5 * dk)).abs() < 1e-12);
        let grad = |p: &[f64]| {
            let (_, x, y, z) = simpson_sin_grad(p[0], p[1], p[2]);
            vec![x, y, z]
        };
        let (_, _, _, _, hess) = simpson_sin_hessian(a, b, k);
        check_hessian("simpson hessian", hess.as_flattened(), grad, &[a, b, k]);
    }
}

/// The uniform cubic B-spline basis function on [0, 4), piece by piece.
#[differentiate(reverse, forward, hessian)]
fn cubic_bspline(t: f64) -> f64 {
    let u = t.fract();
    match t.floor() as i64 {
        k if k < 0 => 0.0,
        0 => u.powi(3) / 6.0,
        1 => (-3.0 * u.powi(3) + 3.0 * u * u + 3.0 * u + 1.0) / 6.0,
        2 => (3.0 * u.powi(3) - 6.0 * u * u + 4.0) / 6.0,
        3 => (1.0 - u).powi(3) / 6.0,
        _ => 0.0,
    }
}

/// A uniform cubic spline Σ cᵢ B(x − i + 3).
#[differentiate(reverse, forward, hessian)]
fn spline(coeffs: &[f64], x: f64) -> f64 {
    coeffs
        .iter()
        .enumerate()
        .map(|(i, &c)| c * cubic_bspline(x - i as f64 + 3.0))
        .sum()
}

#[test]
fn cubic_b_spline() {
    let coeffs = [1.0, -0.5, 2.0, 0.3, 1.2, -1.0];
    for x in [0.3, 1.5, 2.75, 4.1] {
        let (value, dc, dx) = spline_grad(&coeffs, x);
        assert_eq!(value, spline(&coeffs, x));
        // ∂/∂cᵢ is the basis function itself.
        let basis: Vec<f64> = (0..coeffs.len())
            .map(|i| cubic_bspline(x - i as f64 + 3.0))
            .collect();
        assert_near("spline ∂/∂c", &dc, &basis, EXACT);
        let dxf = fd_gradient(|p| spline(&coeffs, p[0]), &[x]);
        assert_near("spline ∂/∂x", &[dx], &dxf, FD);
        let v = direction(coeffs.len());
        let (_, t) = spline_jvp(&coeffs, &v, x, 0.5);
        assert!((t - dot(&dc, &v) - 0.5 * dx).abs() < 1e-12);
        let grad = |p: &[f64]| {
            let (_, mut g, d) = spline_grad(&p[..6], p[6]);
            g.push(d);
            g
        };
        let mut p = coeffs.to_vec();
        p.push(x);
        let (_, _, _, hess) = spline_hessian(&coeffs, x);
        check_hessian("spline hessian", &hess, grad, &p);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. More iterator idioms: lags, products, hypot folds, generic log-sum-exp, polar coordinates
// ---------------------------------------------------------------------------------------------

/// The lag-1 sample autocorrelation r₁ = Σₜ (xₜ − x̄)(xₜ₊₁ − x̄) / Σₜ (xₜ − x̄)² (Box and
/// Jenkins, *Time Series Analysis*, §2.1.4), pairing the series with itself shifted by `skip`.
#[differentiate(reverse, forward, hessian)]
fn lag1_autocorrelation(x: &[f64]) -> f64 {
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let num: f64 = x
        .iter()
        .zip(x.iter().skip(1))
        .map(|(a, b)| (a - mean) * (b - mean))
        .sum();
    let den: f64 = x.iter().map(|v| (v - mean).powi(2)).sum();
    num / den
}

/// The geometric mean (Π xᵢ)^(1/n) by `product`.
#[differentiate(reverse, forward, hessian)]
fn geometric_mean(x: &[f64]) -> f64 {
    x.iter().product::<f64>().powf(1.0 / x.len() as f64)
}

/// The product Π xᵢ by `product`, whose gradient must not divide by an entry.
#[differentiate(reverse, forward, hessian)]
fn product_of(x: &[f64]) -> f64 {
    x.iter().product()
}

/// The Euclidean norm accumulated by `hypot`, which neither overflows nor underflows.
#[differentiate(reverse, forward, hessian)]
fn hypot_norm(x: &[f64]) -> f64 {
    x.iter().fold(0.0, |acc: f64, &v| acc.hypot(v))
}

#[test]
fn lags_products_and_norms() {
    let x = [1.2, 0.7, 1.9, 2.4, 1.1, 0.3, 1.6];
    let (value, g) = lag1_autocorrelation_grad(&x);
    assert_eq!(value, lag1_autocorrelation(&x));
    assert_near(
        "autocorrelation gradient",
        &g,
        &fd_gradient(lag1_autocorrelation, &x),
        FD,
    );
    // r₁ does not change when the series is shifted or scaled.
    assert!(g.iter().sum::<f64>().abs() < 1e-12);
    assert!(dot(&g, &x).abs() < 1e-12);
    let v = direction(x.len());
    let (_, t) = lag1_autocorrelation_jvp(&x, &v);
    assert!((t - dot(&g, &v)).abs() < 1e-12);
    let (_, _, hess) = lag1_autocorrelation_hessian(&x);
    check_hessian(
        "autocorrelation hessian",
        &hess,
        |p| lag1_autocorrelation_grad(p).1,
        &x,
    );

    let y = [2.0, 3.0, 4.0];
    let (value, g) = geometric_mean_grad(&y);
    assert_near("geometric mean", &[value], &[24.0_f64.cbrt()], 1e-14);
    let want: Vec<f64> = y.iter().map(|v| value / (3.0 * v)).collect();
    assert_near("geometric mean gradient", &g, &want, EXACT);
    let (_, _, hess) = geometric_mean_hessian(&y);
    check_hessian(
        "geometric mean hessian",
        &hess,
        |p| geometric_mean_grad(p).1,
        &y,
    );

    // ∂/∂xᵢ Π x = Π_{j≠i} xⱼ, also where an entry is 0.
    for (p, want) in [
        ([2.0, 3.0, 4.0], [12.0, 8.0, 6.0]),
        ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),
        ([0.0, 0.0, 3.0], [0.0, 0.0, 0.0]),
    ] {
        let (value, g) = product_of_grad(&p);
        assert_eq!(value, p.iter().product::<f64>());
        assert_eq!(g, want.to_vec());
        let (_, _, hess) = product_of_hessian(&p);
        let want_h = [0.0, p[2], p[1], p[2], 0.0, p[0], p[1], p[0], 0.0];
        assert_near("product hessian", &hess, &want_h, EXACT);
    }

    for p in [
        vec![3.0, 4.0],
        vec![0.0, 0.0, 3.0],
        vec![1e200, 1e200],
        vec![-2.0, 1.0, 2.0],
    ] {
        let (value, g) = hypot_norm_grad(&p);
        assert_eq!(value, hypot_norm(&p));
        let want: Vec<f64> = p.iter().map(|v| v / value).collect();
        assert_near("hypot norm gradient", &g, &want, EXACT);
        let (_, t) = hypot_norm_jvp(&p, &p);
        assert_near("hypot norm tangent", &[t], &[value], EXACT);
    }
    let p = [-2.0, 1.0, 2.0];
    let (_, _, hess) = hypot_norm_hessian(&p);
    // (I − x̂x̂ᵀ)/‖x‖ with ‖x‖ = 3.
    let want: Vec<f64> = (0..9)
        .map(|ij| {
            let (i, j) = (ij / 3, ij % 3);
            (if i == j { 1.0 } else { 0.0 } - p[i] * p[j] / 9.0) / 3.0
        })
        .collect();
    assert_near("hypot norm hessian", &hess, &want, EXACT);
}

/// log Σ exp zᵢ, generic over the float type, shifted by the largest entry.
#[differentiate(reverse, forward, hessian)]
fn log_sum_exp<T: Float + Sum>(z: &[T]) -> T {
    let m = z.iter().copied().fold(T::neg_infinity(), T::max);
    m + z.iter().map(|&v| (v - m).exp()).sum::<T>().ln()
}

#[test]
fn generic_log_sum_exp_at_f64_and_f32() {
    let z = [0.1, 0.5, -0.3, 2.0];
    let (value, g) = log_sum_exp_grad(&z);
    let total: f64 = z.iter().map(|v| v.exp()).sum();
    assert_near("log-sum-exp", &[value], &[total.ln()], 1e-14);
    let softmax: Vec<f64> = z.iter().map(|v| v.exp() / total).collect();
    assert_near("log-sum-exp gradient", &g, &softmax, EXACT);
    let (_, _, hess) = log_sum_exp_hessian(&z);
    // diag(p) − p pᵀ.
    let want: Vec<f64> = (0..16)
        .map(|ij| {
            let (i, j) = (ij / 4, ij % 4);
            (if i == j { softmax[i] } else { 0.0 }) - softmax[i] * softmax[j]
        })
        .collect();
    assert_near("log-sum-exp hessian", &hess, &want, EXACT);
    let v = direction(4);
    let (_, _, hv) = log_sum_exp_hvp(&z, &v);
    let want_hv: Vec<f64> = (0..4).map(|i| dot(&want[i * 4..(i + 1) * 4], &v)).collect();
    assert_near("log-sum-exp hvp", &hv, &want_hv, EXACT);
    let z32 = z.map(|v| v as f32);
    let (_, g32) = log_sum_exp_grad(&z32);
    let g32: Vec<f64> = g32.into_iter().map(f64::from).collect();
    assert_near("log-sum-exp f32 gradient", &g32, &softmax, 1e-5);
    let (_, t32) = log_sum_exp_jvp(&z32, &[1.0, 0.0, 0.0, 0.0]);
    assert_near(
        "log-sum-exp f32 tangent",
        &[f64::from(t32)],
        &[softmax[0]],
        1e-5,
    );
}

/// Polar to Cartesian coordinates, two outputs.
#[differentiate(reverse, forward)]
fn polar_to_cartesian(r: f64, theta: f64) -> (f64, f64) {
    (r * theta.cos(), r * theta.sin())
}

/// The squared distance from a point given in polar coordinates to `target`.
#[differentiate(reverse, forward, wrt(r, theta))]
fn polar_distance_sq(r: f64, theta: f64, target: &[f64; 2]) -> f64 {
    let (x, y) = polar_to_cartesian(r, theta);
    let [tx, ty] = *target;
    (x - tx).powi(2) + (y - ty).powi(2)
}

#[test]
fn polar_coordinates() {
    let target = [1.0, -0.5];
    for (r, theta) in [(2.0, 0.3), (0.5, 2.5)] {
        let ((x, y), jac) = polar_to_cartesian_jacobian(r, theta);
        assert_eq!((x, y), polar_to_cartesian(r, theta));
        let want = [
            [theta.cos(), -r * theta.sin()],
            [theta.sin(), r * theta.cos()],
        ];
        assert_near(
            "polar jacobian",
            jac.as_flattened(),
            want.as_flattened(),
            EXACT,
        );
        // det J = r.
        let det = jac[0][0] * jac[1][1] - jac[0][1] * jac[1][0];
        assert_near("polar determinant", &[det], &[r], EXACT);
        let (_, dr, dtheta) = polar_to_cartesian_vjp(r, theta, (0.7, -1.1));
        assert_near(
            "polar vjp",
            &[dr, dtheta],
            &[
                0.7 * want[0][0] - 1.1 * want[1][0],
                0.7 * want[0][1] - 1.1 * want[1][1],
            ],
            EXACT,
        );
        let (_, (tx, ty)) = polar_to_cartesian_jvp(r, 0.2, theta, -0.4);
        assert_near(
            "polar jvp",
            &[tx, ty],
            &[
                0.2 * want[0][0] - 0.4 * want[0][1],
                0.2 * want[1][0] - 0.4 * want[1][1],
            ],
            EXACT,
        );

        let (value, dr, dtheta) = polar_distance_sq_grad(r, theta, &target);
        assert_eq!(value, polar_distance_sq(r, theta, &target));
        let (ex, ey) = (x - target[0], y - target[1]);
        let want = [
            2.0 * (ex * theta.cos() + ey * theta.sin()),
            2.0 * r * (-ex * theta.sin() + ey * theta.cos()),
        ];
        assert_near("polar distance gradient", &[dr, dtheta], &want, EXACT);
        let (_, t) = polar_distance_sq_jvp(r, 1.0, theta, 0.0, &target);
        assert_near("polar distance tangent", &[t], &[want[0]], EXACT);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Recursion, associated constants and an `f32` model
// ---------------------------------------------------------------------------------------------

/// Σ xᵢ² by recursive pairwise summation (Higham, *Accuracy and Stability of Numerical
/// Algorithms*, §4.2): each half through the function's own gradient.
#[differentiate(reverse, forward, hessian)]
fn pairwise_sum_of_squares_recursive(x: &[f64]) -> f64 {
    if x.len() <= 2 {
        x.iter().map(|v| v * v).sum()
    } else {
        let (a, b) = x.split_at(x.len() / 2);
        pairwise_sum_of_squares_recursive(a) + pairwise_sum_of_squares_recursive(b)
    }
}

#[test]
fn recursive_pairwise_sum() {
    for len in [1, 2, 3, 7, 16] {
        let x: Vec<f64> = direction(len).iter().map(|v| 2.0 * v + 0.1).collect();
        let (value, g) = pairwise_sum_of_squares_recursive_grad(&x);
        assert_near("recursive pairwise value", &[value], &[dot(&x, &x)], 1e-14);
        let want: Vec<f64> = x.iter().map(|v| 2.0 * v).collect();
        assert_near("recursive pairwise gradient", &g, &want, EXACT);
        let (_, t) = pairwise_sum_of_squares_recursive_jvp(&x, &x);
        assert_near(
            "recursive pairwise tangent",
            &[t],
            &[2.0 * dot(&x, &x)],
            EXACT,
        );
        let (_, _, hess) = pairwise_sum_of_squares_recursive_hessian(&x);
        let want_h: Vec<f64> = (0..len * len)
            .map(|ij| if ij / len == ij % len { 2.0 } else { 0.0 })
            .collect();
        assert_near("recursive pairwise hessian", &hess, &want_h, EXACT);
    }
}

/// A simple pendulum of length ℓ and mass m.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Pendulum {
    length: f64,
    mass: f64,
}

impl Pendulum {
    /// Standard gravity, m/s².
    const G: f64 = 9.806_65;

    /// Kinetic plus potential energy at angle θ and angular velocity ω.
    #[differentiate(reverse, forward, hessian, wrt(self, theta))]
    fn energy(&self, theta: f64, omega: f64) -> f64 {
        let height = self.length * (1.0 - theta.cos());
        0.5 * self.mass * (self.length * omega).powi(2) + self.mass * Self::G * height
    }
}

#[test]
fn pendulum_energy() {
    let g = Pendulum::G;
    for (length, mass, theta, omega) in [(2.0, 0.5, 0.3, 1.2), (0.7, 3.0, -1.1, 0.4)] {
        let p = Pendulum { length, mass };
        let (value, dp, dtheta) = p.energy_grad(theta, omega);
        assert_eq!(value, p.energy(theta, omega));
        let c = 1.0 - theta.cos();
        let want = [
            mass * length * omega * omega + mass * g * c,
            0.5 * length * length * omega * omega + g * length * c,
            mass * g * length * theta.sin(),
        ];
        assert_near(
            "pendulum gradient",
            &[dp.length, dp.mass, dtheta],
            &want,
            EXACT,
        );
        let (_, t) = p.energy_jvp(
            &Pendulum {
                length: 0.1,
                mass: -0.2,
            },
            theta,
            0.3,
            omega,
        );
        assert_near(
            "pendulum tangent",
            &[t],
            &[dot(&want, &[0.1, -0.2, 0.3])],
            EXACT,
        );
        // In the order the body first reads them: ℓ, m, θ.
        let (_, _, _, hess) = p.energy_hessian(theta, omega);
        let want_h = [
            mass * omega * omega,
            length * omega * omega + g * c,
            mass * g * theta.sin(),
            length * omega * omega + g * c,
            0.0,
            g * length * theta.sin(),
            mass * g * theta.sin(),
            g * length * theta.sin(),
            mass * g * length * theta.cos(),
        ];
        assert_near("pendulum hessian", &hess, &want_h, EXACT);
    }
}

/// A linear model in `f32`, its squared error on one example.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Linear32 {
    w: [f32; 2],
    b: f32,
}

impl Linear32 {
    #[differentiate(reverse, forward, hessian, wrt(self))]
    fn squared_error(&self, x: [f32; 2], y: f32) -> f32 {
        let prediction = self.w.iter().zip(x).map(|(w, x)| w * x).sum::<f32>() + self.b;
        (prediction - y).powi(2)
    }
}

#[test]
fn linear_model_in_f32() {
    let m = Linear32 {
        w: [0.5, -1.0],
        b: 0.25,
    };
    let x = [1.0, 2.0];
    let (value, d) = m.squared_error_grad(x, 0.5);
    assert_eq!(value, m.squared_error(x, 0.5));
    // r = w·x + b − y = −1.75: ∂/∂w = 2 r x, ∂/∂b = 2 r.
    assert_eq!(
        d,
        Linear32 {
            w: [-3.5, -7.0],
            b: -3.5
        }
    );
    let (_, t) = m.squared_error_jvp(
        &Linear32 {
            w: [1.0, 0.0],
            b: 1.0,
        },
        x,
        0.5,
    );
    assert_eq!(t, -7.0);
    // 2 [x; 1][x; 1]ᵀ, in the order w, b.
    let (_, _, hess) = m.squared_error_hessian(x, 0.5);
    assert_eq!(hess, vec![2.0, 4.0, 2.0, 4.0, 8.0, 4.0, 2.0, 4.0, 2.0]);
}

/// The hidden layer of a small network.
#[derive(Clone, Debug, Default, PartialEq)]
struct Layer {
    w: [f64; 4],
    b: [f64; 2],
}

/// Two inputs, two `tanh` units, a scaled linear read-out.
#[derive(Clone, Debug, Default, PartialEq)]
struct Net {
    layer: Layer,
    out: [f64; 2],
    scale: f64,
}

/// The network's output, reading fields of fields through `chunks_exact`, `zip` and `enumerate`.
#[differentiate(reverse, forward, hessian, wrt(net))]
fn net_output(net: &Net, x: &[f64; 2]) -> f64 {
    let mut s = 0.0;
    for (i, (row, b)) in net.layer.w.chunks_exact(2).zip(&net.layer.b).enumerate() {
        let h = (row[0] * x[0] + row[1] * x[1] + b).tanh();
        s += net.out[i] * h;
    }
    net.scale * s
}

/// The same network with the hidden units named and read out by `zip`.
#[differentiate(reverse, forward, hessian, wrt(net))]
fn net_output_unrolled(net: &Net, x: &[f64; 2]) -> f64 {
    let h0 = (net.layer.w[0] * x[0] + net.layer.w[1] * x[1] + net.layer.b[0]).tanh();
    let h1 = (net.layer.w[2] * x[0] + net.layer.w[3] * x[1] + net.layer.b[1]).tanh();
    let h = [h0, h1];
    net.scale * net.out.iter().zip(&h).map(|(o, h)| o * h).sum::<f64>()
}

/// The network's parameters in declaration order.
fn net_flat(n: &Net) -> Vec<f64> {
    let mut v = n.layer.w.to_vec();
    v.extend(n.layer.b);
    v.extend(n.out);
    v.push(n.scale);
    v
}

fn net_from(p: &[f64]) -> Net {
    Net {
        layer: Layer {
            w: [p[0], p[1], p[2], p[3]],
            b: [p[4], p[5]],
        },
        out: [p[6], p[7]],
        scale: p[8],
    }
}

#[test]
fn network_with_nested_struct_fields() {
    let net = Net {
        layer: Layer {
            w: [0.5, -0.3, 0.8, 0.2],
            b: [0.1, -0.2],
        },
        out: [1.5, -0.7],
        scale: 1.3,
    };
    let x = [0.4, -1.1];
    let p = net_flat(&net);
    let fd = fd_gradient(|q| net_output(&net_from(q), &x), &p);
    let (value, d) = net_output_grad(&net, &x);
    assert_eq!(value, net_output(&net, &x));
    assert_near("net gradient", &net_flat(&d), &fd, FD);
    let (value2, d2) = net_output_unrolled_grad(&net, &x);
    assert_near("unrolled net value", &[value2], &[value], 1e-15);
    assert_near(
        "unrolled net gradient",
        &net_flat(&d2),
        &net_flat(&d),
        EXACT,
    );
    let v = direction(9);
    let (_, t) = net_output_jvp(&net, &net_from(&v), &x);
    assert!((t - dot(&net_flat(&d), &v)).abs() < 1e-12);
    let (_, t2) = net_output_unrolled_jvp(&net, &net_from(&v), &x);
    assert!((t2 - t).abs() < 1e-12);
    // The Hessian holds the fields in the order the body first reads them; its Hessian-vector
    // product is a `Net` and does not depend on that order.
    let grad = |q: &[f64]| net_flat(&net_output_grad(&net_from(q), &x).1);
    let want = common::oracles::fd_hessian(grad, &p);
    let (_, _, hv) = net_output_hvp(&net, &net_from(&v), &x);
    let want_hv: Vec<f64> = (0..9).map(|i| dot(&want[i * 9..(i + 1) * 9], &v)).collect();
    assert_near("net hvp", &net_flat(&hv), &want_hv, 1e-6);
    let (_, _, hv2) = net_output_unrolled_hvp(&net, &net_from(&v), &x);
    assert_near("unrolled net hvp", &net_flat(&hv2), &net_flat(&hv), EXACT);
    let (_, _, hess) = net_output_hessian(&net, &x);
    assert_eq!(hess.len(), 81);
}

// ---------------------------------------------------------------------------------------------
// Generic spellings: float methods by path on `T` and on the trait, `f64` constants beside `T`,
// constant values, loops
// ---------------------------------------------------------------------------------------------

/// Every method named by path on the type parameter, as `f64::exp(x)` is on `f64`.
#[differentiate(reverse, forward, hessian, graph)]
fn methods_on_t<T: Float>(x: T, y: T) -> T {
    T::exp(x) * T::sqrt(y) + T::max(x, y) + T::powi(x, 3) + T::atan2(y, x) + T::hypot(x, y)
}

/// The same methods through the trait, `Float::powi(x, 3)`, in a generic function.
#[differentiate(reverse, forward, hessian, graph)]
fn methods_on_float_trait<T: Float>(x: T, y: T) -> T {
    Float::exp(x) * Float::sqrt(y)
        + Float::max(x, y)
        + Float::powi(x, 3)
        + Float::atan2(y, x)
        + Float::hypot(x, y)
}

/// The trait's methods by a longer path.
mod trait_path {
    use autodiff::differentiate;
    use autodiff::num_traits;

    /// `num_traits::Float::sqrt(x)` where `Float` is not imported.
    #[differentiate(reverse, forward, hessian, graph)]
    pub fn long_trait_path<T: num_traits::Float>(x: T) -> T {
        num_traits::Float::sqrt(x) * num_traits::Float::ln(x)
    }
}

/// The trait's methods in an `f64` function.
#[differentiate(reverse, forward, hessian, graph)]
fn float_trait_in_f64(x: f64, y: f64) -> f64 {
    Float::exp(x) * Float::sqrt(y)
        + Float::max(x, y)
        + Float::powi(x, 3)
        + Float::atan2(y, x)
        + Float::hypot(x, y)
}

/// ∇ of `exp(x)√y + max(x, y) + x³ + atan2(y, x) + hypot(x, y)` where `y > x`.
fn methods_gradient_by_hand(x: f64, y: f64) -> [f64; 2] {
    let (r2, r) = (x * x + y * y, x.hypot(y));
    [
        x.exp() * y.sqrt() + 3.0 * x * x - y / r2 + x / r,
        x.exp() / (2.0 * y.sqrt()) + 1.0 + x / r2 + y / r,
    ]
}

#[test]
fn float_methods_by_path_on_t_and_on_the_trait() {
    type Modes = (
        fn(f64, f64) -> (f64, f64, f64),
        fn(f64, f64, f64, f64) -> (f64, f64),
        fn(f64, f64) -> (f64, f64, f64, [[f64; 2]; 2]),
        fn(f64, f64) -> autodiff::Graph,
    );
    let (x, y) = (0.7, 1.3);
    let want = methods_gradient_by_hand(x, y);
    let value = methods_on_t(x, y);
    let grad_of = |q: &[f64]| {
        let (_, dx, dy) = methods_on_t_grad(q[0], q[1]);
        vec![dx, dy]
    };
    let all: [(&str, Modes); 3] = [
        (
            "T::",
            (
                methods_on_t_grad,
                methods_on_t_jvp,
                methods_on_t_hessian,
                methods_on_t_graph,
            ),
        ),
        (
            "Float::",
            (
                methods_on_float_trait_grad,
                methods_on_float_trait_jvp,
                methods_on_float_trait_hessian,
                methods_on_float_trait_graph,
            ),
        ),
        (
            "Float:: in f64",
            (
                float_trait_in_f64_grad,
                float_trait_in_f64_jvp,
                float_trait_in_f64_hessian,
                float_trait_in_f64_graph,
            ),
        ),
    ];
    for (what, (grad, jvp, hessian, graph)) in all {
        let (v, dx, dy) = grad(x, y);
        assert_eq!(v, value, "{what}");
        assert_near(what, &[dx, dy], &want, EXACT);
        let (v, t) = jvp(x, 0.3, y, -0.8);
        assert_eq!(v, value, "{what}");
        assert_near(what, &[t], &[0.3 * want[0] - 0.8 * want[1]], EXACT);
        let (v, hx, hy, hess) = hessian(x, y);
        assert_eq!(v, value, "{what}");
        assert_near(what, &[hx, hy], &want, EXACT);
        check_hessian(what, hess.as_flattened(), grad_of, &[x, y]);
        let g = graph(x, y);
        assert_near(what, &[g.output().value()], &[value], EXACT);
        let adjoints = [
            g.node("x").unwrap().adjoint(),
            g.node("y").unwrap().adjoint(),
        ];
        assert_near(what, &adjoints, &want, EXACT);
    }
    let (_, _, _, hv_x, hv_y) = methods_on_t_hvp(x, 1.0, y, 0.0);
    let (_, _, _, hess) = methods_on_t_hessian(x, y);
    assert_near("T:: hvp", &[hv_x, hv_y], &hess[0], EXACT);
    // √x · ln x: (ln x + 2) / (2√x).
    let x = 2.5_f64;
    let (value, d) = trait_path::long_trait_path_grad(x);
    assert_eq!(value, trait_path::long_trait_path(x));
    let want = (x.ln() + 2.0) / (2.0 * x.sqrt());
    assert_near("num_traits::Float::sqrt", &[d], &[want], EXACT);
    let (_, t) = trait_path::long_trait_path_jvp(x, 1.0);
    assert_near("num_traits::Float::sqrt tangent", &[t], &[want], EXACT);
    // −ln x / (4 x^{3/2}).
    let (_, _, h) = trait_path::long_trait_path_hessian(x);
    assert_near(
        "num_traits::Float::sqrt hessian",
        &h.concat(),
        &[-x.ln() / (4.0 * x.powf(1.5))],
        EXACT,
    );
    let g = trait_path::long_trait_path_graph(x);
    assert_near(
        "num_traits::Float::sqrt graph",
        &[g.node("x").unwrap().adjoint()],
        &[want],
        EXACT,
    );
    // At `f32`, the same closed form.
    let (_, dx, dy) = methods_on_t_grad(0.7_f32, 1.3_f32);
    assert_near(
        "T:: f32",
        &[f64::from(dx), f64::from(dy)],
        &methods_gradient_by_hand(f64::from(0.7_f32), f64::from(1.3_f32)),
        1e-5,
    );
}

/// `2.0 * PI` in a generic body is an `f64` constant, converted to `T` where the body says so:
/// in `T::from(..)`, bound with `let`, passed to a differentiated callee, and with a method.
#[differentiate(reverse, forward, hessian, graph)]
fn f64_constants_in_generic<T: Float + FromPrimitive>(x: T) -> T {
    let c = 2.0 * PI;
    let h = PI / 2.0 - 0.5_f64;
    T::from(2.0_f64 * PI).unwrap() * x
        + T::from(c).unwrap() * x * x
        + scaled(x, T::from(2.0 * PI).unwrap())
        + T::from_f64((2.0 * PI).sqrt()).unwrap() * x.sin()
        + T::from(h).unwrap() * x
}

/// `x · c`, differentiated in both.
#[differentiate(reverse, forward, hessian, graph)]
fn scaled<T: Float>(x: T, c: T) -> T {
    x * c
}

#[test]
fn f64_constant_arithmetic_in_a_generic_function() {
    let tau = 2.0 * PI;
    let h = PI / 2.0 - 0.5;
    let f = |x: f64| tau * x + tau * x * x + x * tau + tau.sqrt() * x.sin() + h * x;
    let df = |x: f64| tau + 2.0 * tau * x + tau + tau.sqrt() * x.cos() + h;
    let d2f = |x: f64| 2.0 * tau - tau.sqrt() * x.sin();
    for x in [0.4, -1.3] {
        assert_near("value", &[f64_constants_in_generic(x)], &[f(x)], EXACT);
        let (value, d) = f64_constants_in_generic_grad(x);
        assert_eq!(value, f64_constants_in_generic(x));
        assert_near("gradient", &[d], &[df(x)], EXACT);
        let (_, t) = f64_constants_in_generic_jvp(x, 1.0);
        assert_near("tangent", &[t], &[df(x)], EXACT);
        let (_, g, h) = f64_constants_in_generic_hessian(x);
        assert_near("hessian gradient", &[g], &[df(x)], EXACT);
        assert_near("hessian", &h.concat(), &[d2f(x)], EXACT);
        let (_, _, hv) = f64_constants_in_generic_hvp(x, 1.0);
        assert_near("hvp", &[hv], &[d2f(x)], EXACT);
        let g = f64_constants_in_generic_graph(x);
        assert_near("graph", &[g.node("x").unwrap().adjoint()], &[df(x)], EXACT);
        let (_, d32) = f64_constants_in_generic_grad(x as f32);
        assert_near("f32", &[f64::from(d32)], &[df(f64::from(x as f32))], 1e-4);
    }
}

/// A generic function whose value is a constant: `T::zero()`.
#[differentiate(reverse, forward, hessian, graph)]
fn generic_zero<T: Float>(_x: T, _y: T) -> T {
    T::zero()
}

#[test]
fn generic_function_of_constant_value() {
    assert_eq!(generic_zero_grad(1.5, -2.0), (0.0, 0.0, 0.0));
    assert_eq!(generic_zero_grad(1.5_f32, -2.0_f32), (0.0, 0.0, 0.0));
    assert_eq!(generic_zero_jvp(1.5, -2.0, 1.0, 1.0), (0.0, 0.0));
    assert_eq!(
        generic_zero_hvp(1.5, -2.0, 1.0, 1.0),
        (0.0, 0.0, 0.0, 0.0, 0.0)
    );
    assert_eq!(
        generic_zero_hessian(1.5, -2.0),
        (0.0, 0.0, 0.0, [[0.0; 2]; 2])
    );
    assert_eq!(generic_zero_graph(1.5, -2.0).output().value(), 0.0);
    // argmin's `zero`.
    let p = [1.0, -2.0, 3.0];
    assert_eq!(zero_grad(&p), (0.0, vec![0.0; 3]));
    assert_eq!(zero_jvp(&p, &[1.0; 3]), (0.0, 0.0));
    let (value, g, hess) = zero_hessian(&p);
    assert_eq!((value, g, hess), (0.0, vec![0.0; 3], vec![0.0; 9]));
    let (value, g, hv) = zero_hvp(&p, &[1.0; 3]);
    assert_eq!((value, g, hv), (0.0, vec![0.0; 3], vec![0.0; 3]));
    assert_eq!(zero_graph(&p).output().value(), 0.0);
}

/// Loops in a generic function, whose generated counters pass `clippy::assign_op_pattern`.
#[differentiate(reverse, forward, hessian, graph)]
fn generic_loops<T: Float>(x: &[T], a: T) -> T {
    let mut t = a;
    loop {
        t = t * a;
        if t.abs() > T::from(4.0).unwrap() {
            break;
        }
    }
    let mut s = T::zero();
    let mut i = 0;
    while i < x.len() {
        s = s + x[i] * t;
        i += 1;
    }
    s
}

#[test]
fn generic_loops_in_every_mode() {
    // a = 1.5: t = a³ = 3.375 < 4, then a⁴ = 5.0625 > 4, so s = a⁴ Σx, ∂s/∂a = 4a³ Σx.
    let x = [0.5, -1.0, 2.0];
    let a: f64 = 1.5;
    let sum: f64 = x.iter().sum();
    let (value, dx, da) = generic_loops_grad(&x, a);
    assert_eq!(value, generic_loops(&x, a));
    assert_near("loops value", &[value], &[a.powi(4) * sum], EXACT);
    assert_near("loops d_x", &dx, &[a.powi(4); 3], EXACT);
    assert_near("loops d_a", &[da], &[4.0 * a.powi(3) * sum], EXACT);
    let (_, t) = generic_loops_jvp(&x, &[0.0; 3], a, 1.0);
    assert_near("loops tangent", &[t], &[da], EXACT);
    let (_, _, _, hess) = generic_loops_hessian(&x, a);
    assert_near(
        "loops ∂²/∂a²",
        &[hess[3 * 4 + 3]],
        &[12.0 * a * a * sum],
        EXACT,
    );
    let (_, _, _, _, hv_a) = generic_loops_hvp(&x, &[0.0; 3], a, 1.0);
    assert_near("loops hvp", &[hv_a], &[12.0 * a * a * sum], EXACT);
    let g = generic_loops_graph(&x, a);
    assert_near(
        "loops graph",
        &[g.node("a").unwrap().adjoint()],
        &[da],
        EXACT,
    );
}

/// A concrete `f64` parameter that `wrt` leaves out of a generic function: a constant, converted
/// by the body.
#[differentiate(reverse, forward, hessian, graph, wrt(x))]
fn generic_with_f64_constant<T: Float>(x: T, c: f64) -> T {
    x * T::from(c).unwrap() + T::from(c * c + 2.0).unwrap() + T::from(c.sqrt()).unwrap() * x.sin()
}

/// An `f32` constant parameter beside an integer one, bound to a local.
#[differentiate(reverse, forward, hessian, graph, wrt(x))]
fn generic_with_f32_constant<T: Float>(x: T, c: f32, n: usize) -> T {
    let k = c * 2.0;
    x * x * T::from(k).unwrap() * T::from(n).unwrap()
}

/// A caller passing its `f64` constant on.
#[differentiate(reverse, forward, hessian, graph, wrt(x))]
fn generic_passes_f64_constant<T: Float>(x: T, c: f64) -> T {
    generic_with_f64_constant(x, c) * x
}

#[test]
fn generic_function_with_an_inactive_concrete_float() {
    let c: f64 = 2.25;
    let f = |x: f64| x * c + (c * c + 2.0) + c.sqrt() * x.sin();
    let df = |x: f64| c + c.sqrt() * x.cos();
    let d2f = |x: f64| -c.sqrt() * x.sin();
    for x in [0.3, -1.2] {
        let (value, d) = generic_with_f64_constant_grad(x, c);
        assert_eq!(value, generic_with_f64_constant(x, c));
        assert_near("f64 constant value", &[value], &[f(x)], EXACT);
        assert_near("f64 constant gradient", &[d], &[df(x)], EXACT);
        let (_, t) = generic_with_f64_constant_jvp(x, 1.0, c);
        assert_near("f64 constant tangent", &[t], &[df(x)], EXACT);
        let (_, _, h) = generic_with_f64_constant_hessian(x, c);
        assert_near("f64 constant hessian", &h.concat(), &[d2f(x)], EXACT);
        let (_, _, hv) = generic_with_f64_constant_hvp(x, 1.0, c);
        assert_near("f64 constant hvp", &[hv], &[d2f(x)], EXACT);
        let g = generic_with_f64_constant_graph(x, c);
        assert_near(
            "f64 constant graph",
            &[g.node("x").unwrap().adjoint()],
            &[df(x)],
            EXACT,
        );
        let (_, d32) = generic_with_f64_constant_grad(x as f32, c);
        assert_near(
            "f64 constant at f32",
            &[f64::from(d32)],
            &[df(f64::from(x as f32))],
            1e-5,
        );
        // (f x)' = f'(x) x + f(x), and (f x)'' = f''(x) x + 2 f'(x).
        let (value, d) = generic_passes_f64_constant_grad(x, c);
        assert_near("caller value", &[value], &[f(x) * x], EXACT);
        assert_near("caller gradient", &[d], &[df(x) * x + f(x)], EXACT);
        let (_, t) = generic_passes_f64_constant_jvp(x, 1.0, c);
        assert_near("caller tangent", &[t], &[df(x) * x + f(x)], EXACT);
        let (_, _, h) = generic_passes_f64_constant_hessian(x, c);
        assert_near(
            "caller hessian",
            &h.concat(),
            &[d2f(x) * x + 2.0 * df(x)],
            EXACT,
        );
        let g = generic_passes_f64_constant_graph(x, c);
        let want = df(x) * x + f(x);
        assert_near(
            "caller graph",
            &[g.node("x").unwrap().adjoint()],
            &[want],
            EXACT,
        );
    }
    // x² · 2c · n, with 2c computed in `f32`.
    let (c, n, x) = (0.1_f32, 3, 1.5);
    let k = f64::from(c * 2.0) * 3.0;
    let (value, d) = generic_with_f32_constant_grad(x, c, n);
    assert_eq!(value, generic_with_f32_constant(x, c, n));
    assert_near("f32 constant gradient", &[d], &[2.0 * x * k], EXACT);
    let (_, t) = generic_with_f32_constant_jvp(x, 1.0, c, n);
    assert_near("f32 constant tangent", &[t], &[2.0 * x * k], EXACT);
    let (_, _, h) = generic_with_f32_constant_hessian(x, c, n);
    assert_near("f32 constant hessian", &h.concat(), &[2.0 * k], EXACT);
    let g = generic_with_f32_constant_graph(x, c, n);
    assert_near(
        "f32 constant graph",
        &[g.node("x").unwrap().adjoint()],
        &[2.0 * x * k],
        EXACT,
    );
}

/// A linear model generic over its float type, as a generic `impl` block writes it.
#[derive(Debug, Default, Clone, PartialEq)]
struct GenericModel<T> {
    w: Vec<T>,
    b: T,
}

impl<T: Float + Default> GenericModel<T> {
    /// The squared error of the prediction, differentiated in the model.
    #[differentiate(reverse, forward, hessian, graph, wrt(self))]
    fn loss(&self, x: &[T], y: T) -> T {
        let mut p = self.b;
        for i in 0..self.w.len() {
            p = p + self.w[i] * x[i];
        }
        (p - y) * (p - y)
    }

    /// A prediction through `exp`, differentiated in the input.
    #[differentiate(reverse, forward, hessian, graph)]
    fn predict(&self, x: &[T]) -> T {
        self.w
            .iter()
            .zip(x)
            .fold(self.b, |p, (&w, &v)| p + w * T::exp(v))
    }
}

#[test]
fn methods_of_a_generic_impl_block() {
    let m = GenericModel {
        w: vec![0.5, -1.0],
        b: 0.25,
    };
    let x = [1.0, 2.0];
    // r = w·x + b − y = −1.75: ∂/∂w = 2 r x, ∂/∂b = 2 r.
    let (value, d) = m.loss_grad(&x, 0.5);
    assert_eq!(value, m.loss(&x, 0.5));
    assert_eq!(value, 3.0625);
    assert_eq!(
        d,
        GenericModel {
            w: vec![-3.5, -7.0],
            b: -3.5
        }
    );
    let tangent = GenericModel {
        w: vec![1.0, 0.0],
        b: 1.0,
    };
    let (_, t) = m.loss_jvp(&tangent, &x, 0.5);
    assert_eq!(t, -7.0);
    // 2 [x; 1][x; 1]ᵀ, in the order the body reads the fields: b, w.
    let (_, _, hess) = m.loss_hessian(&x, 0.5);
    assert_eq!(hess, vec![2.0, 2.0, 4.0, 2.0, 2.0, 4.0, 4.0, 4.0, 8.0]);
    let (_, _, hv) = m.loss_hvp(&tangent, &x, 0.5);
    // H·(1, 0, 1) over (w₀, w₁, b): 2 (x·v_w + v_b) [x; 1] = 4 [1, 2, 1].
    assert_eq!(
        hv,
        GenericModel {
            w: vec![4.0, 8.0],
            b: 4.0
        }
    );
    let g = m.loss_graph(&x, 0.5);
    assert_eq!(g.output().value(), 3.0625);
    // The prediction, in `f64` and in `f32`: ∂/∂xᵢ = wᵢ e^{xᵢ}.
    let (value, dx) = m.predict_grad(&x);
    assert_eq!(value, m.predict(&x));
    let want = [0.5 * 1.0_f64.exp(), -(2.0_f64.exp())];
    assert_near("predict gradient", &dx, &want, EXACT);
    let (_, t) = m.predict_jvp(&x, &[1.0, 1.0]);
    assert_near("predict tangent", &[t], &[want[0] + want[1]], EXACT);
    let (_, _, hess) = m.predict_hessian(&x);
    assert_near(
        "predict hessian",
        &hess,
        &[want[0], 0.0, 0.0, want[1]],
        EXACT,
    );
    let g = m.predict_graph(&x);
    assert_near("predict graph", &[g.output().value()], &[value], EXACT);
    let m32 = GenericModel {
        w: vec![0.5_f32, -1.0],
        b: 0.25,
    };
    let (_, dx32) = m32.predict_grad(&[1.0, 2.0]);
    let dx32: Vec<f64> = dx32.into_iter().map(f64::from).collect();
    assert_near("predict f32 gradient", &dx32, &want, 1e-5);
}

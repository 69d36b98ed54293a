//! Optimisation test functions as a Rust crate of them writes them (argmin's `testfunctions`
//! style: `param: &[f64; 2]` destructured with `let [x1, x2] = *param;`, `n`-dimensional ones over
//! `&[f64]` with iterator chains), each written here from its published definition and
//! differentiated as written.
//!
//! Each gradient is checked against fourth-order finite differences of the original function and
//! against forward mode (along every unit direction), and the values of `f_grad` and `f_jvp`
//! against the original bit for bit; where the gradient has a short closed form, against it too.

#![allow(
    // Dimensions and indices as `f64` and `i32`, as the definitions read them; they are small.
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap
)]

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use std::f64::consts::{E, PI};

use autodiff::num_traits::{Float, FromPrimitive};
use autodiff::{Tolerance, check_gradient_with, differentiate};
use common::{REL, assert_close};

const FD: Tolerance = Tolerance {
    rel: 1e-6,
    abs: 1e-7,
};

/// Checks a function of a fixed-size array taken by reference.
fn verify<const N: usize>(
    name: &str,
    x: [f64; N],
    f: fn(&[f64; N]) -> f64,
    grad: fn(&[f64; N]) -> (f64, [f64; N]),
    jvp: fn(&[f64; N], &[f64; N]) -> (f64, f64),
    closed: Option<[f64; N]>,
) {
    let (v, g) = grad(&x);
    assert_eq!(v.to_bits(), f(&x).to_bits(), "{name}: f_grad value");
    check_gradient_with(|p| f(p.try_into().unwrap()), &x, &g, FD)
        .unwrap_or_else(|e| panic!("{name} against finite differences: {e}"));
    for i in 0..N {
        let mut e = [0.0; N];
        e[i] = 1.0;
        let (vj, t) = jvp(&x, &e);
        assert_eq!(vj.to_bits(), v.to_bits(), "{name}: f_jvp value");
        assert_close(&format!("{name}: forward along e{i}"), t, g[i], REL);
    }
    if let Some(want) = closed {
        for i in 0..N {
            assert_close(&format!("{name}: closed form ∂/∂x{i}"), g[i], want[i], REL);
        }
    }
}

/// Checks a function of a slice.
fn verify_slice(
    name: &str,
    x: &[f64],
    f: fn(&[f64]) -> f64,
    grad: fn(&[f64]) -> (f64, Vec<f64>),
    jvp: fn(&[f64], &[f64]) -> (f64, f64),
    closed: Option<Vec<f64>>,
) {
    let (v, g) = grad(x);
    assert_eq!(v.to_bits(), f(x).to_bits(), "{name}: f_grad value");
    check_gradient_with(f, x, &g, FD)
        .unwrap_or_else(|e| panic!("{name} against finite differences: {e}"));
    for i in 0..x.len() {
        let mut e = vec![0.0; x.len()];
        e[i] = 1.0;
        let (vj, t) = jvp(x, &e);
        assert_eq!(vj.to_bits(), v.to_bits(), "{name}: f_jvp value");
        assert_close(&format!("{name}: forward along e{i}"), t, g[i], REL);
    }
    if let Some(want) = closed {
        for (i, (g, w)) in g.iter().zip(&want).enumerate() {
            assert_close(&format!("{name}: closed form ∂/∂x{i}"), *g, *w, REL);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// n-dimensional functions over slices.

#[differentiate(reverse, forward)]
fn sphere(param: &[f64]) -> f64 {
    param.iter().map(|x| x.powi(2)).sum()
}

#[differentiate(reverse, forward)]
fn rastrigin(param: &[f64]) -> f64 {
    let a = 10.0;
    let n = param.len() as f64;
    a * n
        + param
            .iter()
            .map(|x| x.powi(2) - a * (2.0 * PI * x).cos())
            .sum::<f64>()
}

#[differentiate(reverse, forward)]
fn ackley(param: &[f64]) -> f64 {
    let n = param.len() as f64;
    let squares: f64 = param.iter().map(|x| x * x).sum();
    let cosines: f64 = param.iter().map(|x| (2.0 * PI * x).cos()).sum();
    -20.0 * (-0.2 * (squares / n).sqrt()).exp() - (cosines / n).exp() + 20.0 + E
}

#[differentiate(reverse, forward)]
fn styblinski_tang(param: &[f64]) -> f64 {
    param
        .iter()
        .map(|x| x.powi(4) - 16.0 * x.powi(2) + 5.0 * x)
        .sum::<f64>()
        / 2.0
}

#[differentiate(reverse, forward)]
fn zakharov(param: &[f64]) -> f64 {
    let squares: f64 = param.iter().map(|x| x.powi(2)).sum();
    let weighted: f64 = param
        .iter()
        .enumerate()
        .map(|(i, x)| 0.5 * (i + 1) as f64 * x)
        .sum();
    squares + weighted.powi(2) + weighted.powi(4)
}

#[differentiate(reverse, forward)]
fn griewank(param: &[f64]) -> f64 {
    let sum: f64 = param.iter().map(|x| x.powi(2)).sum::<f64>() / 4000.0;
    let product: f64 = param
        .iter()
        .enumerate()
        .map(|(i, x)| (x / ((i + 1) as f64).sqrt()).cos())
        .product();
    1.0 + sum - product
}

#[differentiate(reverse, forward)]
fn rosenbrock(param: &[f64]) -> f64 {
    param
        .windows(2)
        .map(|w| 100.0 * (w[1] - w[0].powi(2)).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

#[differentiate(reverse, forward)]
fn dixon_price(param: &[f64]) -> f64 {
    let first = (param[0] - 1.0).powi(2);
    first
        + param
            .windows(2)
            .enumerate()
            .map(|(i, w)| (i + 2) as f64 * (2.0 * w[1].powi(2) - w[0]).powi(2))
            .sum::<f64>()
}

#[differentiate(reverse, forward)]
fn trid(param: &[f64]) -> f64 {
    let squares: f64 = param.iter().map(|x| (x - 1.0).powi(2)).sum();
    let neighbours: f64 = param.windows(2).map(|w| w[0] * w[1]).sum();
    squares - neighbours
}

#[differentiate(reverse, forward)]
fn levy(param: &[f64]) -> f64 {
    let w = |x: f64| 1.0 + (x - 1.0) / 4.0;
    let n = param.len();
    let first = (PI * w(param[0])).sin().powi(2);
    let middle: f64 = param[..n - 1]
        .iter()
        .map(|&x| {
            let wi = w(x);
            (wi - 1.0).powi(2) * (1.0 + 10.0 * (PI * wi + 1.0).sin().powi(2))
        })
        .sum();
    let wn = w(param[n - 1]);
    first + middle + (wn - 1.0).powi(2) * (1.0 + (2.0 * PI * wn).sin().powi(2))
}

#[differentiate(reverse, forward)]
fn sum_of_different_powers(param: &[f64]) -> f64 {
    param
        .iter()
        .enumerate()
        .map(|(i, x)| x.abs().powi(i as i32 + 2))
        .sum()
}

#[differentiate(reverse, forward)]
fn rotated_hyper_ellipsoid(param: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..param.len() {
        total += param[..=i].iter().map(|x| x * x).sum::<f64>();
    }
    total
}

#[differentiate(reverse, forward)]
fn powell(param: &[f64]) -> f64 {
    param
        .chunks_exact(4)
        .map(|c| {
            (c[0] + 10.0 * c[1]).powi(2)
                + 5.0 * (c[2] - c[3]).powi(2)
                + (c[1] - 2.0 * c[2]).powi(4)
                + 10.0 * (c[0] - c[3]).powi(4)
        })
        .sum()
}

#[test]
fn n_dimensional() {
    let x = [0.3, -1.1, 0.7, 1.9, -0.4, 0.8, 1.2, -0.6];
    verify_slice(
        "sphere",
        &x,
        sphere,
        sphere_grad,
        sphere_jvp,
        Some(x.iter().map(|v| 2.0 * v).collect()),
    );
    verify_slice(
        "rastrigin",
        &x,
        rastrigin,
        rastrigin_grad,
        rastrigin_jvp,
        Some(
            x.iter()
                .map(|v| 2.0 * v + 20.0 * PI * (2.0 * PI * v).sin())
                .collect(),
        ),
    );
    verify_slice("ackley", &x, ackley, ackley_grad, ackley_jvp, None);
    verify_slice(
        "styblinski_tang",
        &x,
        styblinski_tang,
        styblinski_tang_grad,
        styblinski_tang_jvp,
        Some(x.iter().map(|v| 2.0 * v.powi(3) - 16.0 * v + 2.5).collect()),
    );
    let s2: f64 = x
        .iter()
        .enumerate()
        .map(|(i, v)| 0.5 * (i + 1) as f64 * v)
        .sum();
    verify_slice(
        "zakharov",
        &x,
        zakharov,
        zakharov_grad,
        zakharov_jvp,
        Some(
            x.iter()
                .enumerate()
                .map(|(i, v)| 2.0 * v + (2.0 * s2 + 4.0 * s2.powi(3)) * 0.5 * (i + 1) as f64)
                .collect(),
        ),
    );
    verify_slice("griewank", &x, griewank, griewank_grad, griewank_jvp, None);
    let mut want = vec![0.0; x.len()];
    for (i, w) in x.windows(2).enumerate() {
        want[i] += -400.0 * w[0] * (w[1] - w[0] * w[0]) - 2.0 * (1.0 - w[0]);
        want[i + 1] += 200.0 * (w[1] - w[0] * w[0]);
    }
    verify_slice(
        "rosenbrock",
        &x,
        rosenbrock,
        rosenbrock_grad,
        rosenbrock_jvp,
        Some(want),
    );
    verify_slice(
        "dixon_price",
        &x,
        dixon_price,
        dixon_price_grad,
        dixon_price_jvp,
        None,
    );
    let mut want: Vec<f64> = x.iter().map(|v| 2.0 * (v - 1.0)).collect();
    for (i, w) in x.windows(2).enumerate() {
        want[i] -= w[1];
        want[i + 1] -= w[0];
    }
    verify_slice("trid", &x, trid, trid_grad, trid_jvp, Some(want));
    verify_slice("levy", &x, levy, levy_grad, levy_jvp, None);
    verify_slice(
        "sum_of_different_powers",
        &x,
        sum_of_different_powers,
        sum_of_different_powers_grad,
        sum_of_different_powers_jvp,
        Some(
            x.iter()
                .enumerate()
                .map(|(i, v)| {
                    let p = i as i32 + 2;
                    f64::from(p) * v.abs().powi(p - 1) * v.signum()
                })
                .collect(),
        ),
    );
    let n = x.len();
    verify_slice(
        "rotated_hyper_ellipsoid",
        &x,
        rotated_hyper_ellipsoid,
        rotated_hyper_ellipsoid_grad,
        rotated_hyper_ellipsoid_jvp,
        Some(
            x.iter()
                .enumerate()
                .map(|(i, v)| 2.0 * (n - i) as f64 * v)
                .collect(),
        ),
    );
    verify_slice("powell", &x, powell, powell_grad, powell_jvp, None);
}

// ---------------------------------------------------------------------------------------------
// Two-dimensional functions of `&[f64; 2]`.

#[differentiate(reverse, forward)]
fn beale(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    (1.5 - x1 + x1 * x2).powi(2)
        + (2.25 - x1 + x1 * x2.powi(2)).powi(2)
        + (2.625 - x1 + x1 * x2.powi(3)).powi(2)
}

#[differentiate(reverse, forward)]
fn booth(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    (x1 + 2.0 * x2 - 7.0).powi(2) + (2.0 * x1 + x2 - 5.0).powi(2)
}

#[differentiate(reverse, forward)]
fn himmelblau(param: &[f64; 2]) -> f64 {
    let [x, y] = *param;
    (x.powi(2) + y - 11.0).powi(2) + (x + y.powi(2) - 7.0).powi(2)
}

#[differentiate(reverse, forward)]
fn matyas(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    0.26 * (x1.powi(2) + x2.powi(2)) - 0.48 * x1 * x2
}

#[differentiate(reverse, forward)]
fn goldstein_price(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    let a = 1.0
        + (x1 + x2 + 1.0).powi(2)
            * (19.0 - 14.0 * x1 + 3.0 * x1.powi(2) - 14.0 * x2 + 6.0 * x1 * x2 + 3.0 * x2.powi(2));
    let b = 30.0
        + (2.0 * x1 - 3.0 * x2).powi(2)
            * (18.0 - 32.0 * x1 + 12.0 * x1.powi(2) + 48.0 * x2 - 36.0 * x1 * x2
                + 27.0 * x2.powi(2));
    a * b
}

#[differentiate(reverse, forward)]
fn easom(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    -x1.cos() * x2.cos() * (-((x1 - PI).powi(2) + (x2 - PI).powi(2))).exp()
}

#[differentiate(reverse, forward)]
fn three_hump_camel(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    2.0 * x1.powi(2) - 1.05 * x1.powi(4) + x1.powi(6) / 6.0 + x1 * x2 + x2.powi(2)
}

#[differentiate(reverse, forward)]
fn mccormick(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    (x1 + x2).sin() + (x1 - x2).powi(2) - 1.5 * x1 + 2.5 * x2 + 1.0
}

#[differentiate(reverse, forward)]
fn schaffer_n2(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    let num = (x1.powi(2) - x2.powi(2)).sin().powi(2) - 0.5;
    let den = (1.0 + 0.001 * (x1.powi(2) + x2.powi(2))).powi(2);
    0.5 + num / den
}

#[differentiate(reverse, forward)]
fn levi_n13(param: &[f64; 2]) -> f64 {
    let [x, y] = *param;
    (3.0 * PI * x).sin().powi(2)
        + (x - 1.0).powi(2) * (1.0 + (3.0 * PI * y).sin().powi(2))
        + (y - 1.0).powi(2) * (1.0 + (2.0 * PI * y).sin().powi(2))
}

#[differentiate(reverse, forward)]
fn bukin_n6(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    100.0 * (x2 - 0.01 * x1.powi(2)).abs().sqrt() + 0.01 * (x1 + 10.0).abs()
}

#[differentiate(reverse, forward)]
fn cross_in_tray(param: &[f64; 2]) -> f64 {
    let [x1, x2] = *param;
    let r = (x1.powi(2) + x2.powi(2)).sqrt();
    -0.0001 * ((x1.sin() * x2.sin() * (100.0 - r / PI).abs().exp()).abs() + 1.0).powf(0.1)
}

#[test]
fn two_dimensional() {
    let x = [0.7, -1.3];
    let [a, b] = x;
    verify("beale", x, beale, beale_grad, beale_jvp, None);
    verify(
        "booth",
        x,
        booth,
        booth_grad,
        booth_jvp,
        Some([
            2.0 * (a + 2.0 * b - 7.0) + 4.0 * (2.0 * a + b - 5.0),
            4.0 * (a + 2.0 * b - 7.0) + 2.0 * (2.0 * a + b - 5.0),
        ]),
    );
    verify(
        "himmelblau",
        x,
        himmelblau,
        himmelblau_grad,
        himmelblau_jvp,
        Some([
            4.0 * a * (a * a + b - 11.0) + 2.0 * (a + b * b - 7.0),
            2.0 * (a * a + b - 11.0) + 4.0 * b * (a + b * b - 7.0),
        ]),
    );
    verify(
        "matyas",
        x,
        matyas,
        matyas_grad,
        matyas_jvp,
        Some([0.52 * a - 0.48 * b, 0.52 * b - 0.48 * a]),
    );
    verify(
        "goldstein_price",
        x,
        goldstein_price,
        goldstein_price_grad,
        goldstein_price_jvp,
        None,
    );
    verify("easom", [3.0, 2.9], easom, easom_grad, easom_jvp, None);
    verify(
        "three_hump_camel",
        x,
        three_hump_camel,
        three_hump_camel_grad,
        three_hump_camel_jvp,
        Some([4.0 * a - 4.2 * a.powi(3) + a.powi(5) + b, a + 2.0 * b]),
    );
    verify(
        "mccormick",
        x,
        mccormick,
        mccormick_grad,
        mccormick_jvp,
        Some([
            (a + b).cos() + 2.0 * (a - b) - 1.5,
            (a + b).cos() - 2.0 * (a - b) + 2.5,
        ]),
    );
    verify(
        "schaffer_n2",
        x,
        schaffer_n2,
        schaffer_n2_grad,
        schaffer_n2_jvp,
        None,
    );
    verify("levi_n13", x, levi_n13, levi_n13_grad, levi_n13_jvp, None);
    verify(
        "bukin_n6",
        [-8.0, 1.0],
        bukin_n6,
        bukin_n6_grad,
        bukin_n6_jvp,
        None,
    );
    verify(
        "cross_in_tray",
        x,
        cross_in_tray,
        cross_in_tray_grad,
        cross_in_tray_jvp,
        None,
    );
}

// `f64::max(m, x)`, `f64::sqrt(s)` and the like, where `m` or `s` starts as an unsuffixed
// literal: Rust cannot call a method on such a value, so the derivatives must not either.

#[differentiate(reverse, forward, hessian)]
fn linf(x: &[f64]) -> f64 {
    x.iter().map(|v| v.abs()).fold(0.0, f64::max)
}

#[differentiate(reverse, forward, hessian)]
fn running(x: f64) -> f64 {
    let mut m = 0.0;
    for _ in 0..3 {
        m = f64::max(m, x);
    }
    m * x
}

/// f = √(x₀ + x₁²) for x₀ > 0: the first step is √(x₀²) = x₀.
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::needless_range_loop)] // the macro takes `for` over ranges
fn sqrt_chain(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s = f64::sqrt(s + x[i] * x[i]);
    }
    s
}

/// f = x₀² x₁.
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::needless_range_loop)] // the macro takes `for` over ranges
fn powi_chain(x: &[f64]) -> f64 {
    let mut p = 1.0;
    for i in 0..x.len() {
        p = f64::powi(p, 2) * x[i];
    }
    p
}

/// f = |x|.
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::needless_range_loop)] // the macro takes `for` over ranges
fn hypot_chain(x: &[f64]) -> f64 {
    let mut h = 0.0;
    for i in 0..x.len() {
        h = f64::hypot(h, x[i]);
    }
    h
}

/// f = ln x₀ + x₁.
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::needless_range_loop)] // the macro takes `for` over ranges
fn ln_chain(x: &[f64]) -> f64 {
    let mut l = 1.0;
    for i in 0..x.len() {
        l = f64::ln(l) + x[i];
    }
    l
}

/// f = x₀ x₁ + x₁.
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::needless_range_loop)] // the macro takes `for` over ranges
fn mul_add_chain(x: &[f64]) -> f64 {
    let mut q = 0.0;
    for i in 0..x.len() {
        q = f64::mul_add(q, x[i], x[i]);
    }
    q
}

/// The same written as methods where Rust accepts them: the receiver's type is known.
/// f = max(x₀, x₁)² + √(x₀² + x₁²).
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::needless_range_loop)] // the macro takes `for` over ranges
fn method_forms(x: &[f64]) -> f64 {
    let mut m = 0.0;
    let mut s = 0.0;
    for i in 0..x.len() {
        m = x[i].max(m);
        s = x[i].mul_add(x[i], s);
    }
    let r: f64 = s;
    m * m + r.sqrt()
}

/// `f_hvp` of a function of a slice: the value, the gradient and the Hessian-vector product.
type Hvp = fn(&[f64], &[f64]) -> (f64, Vec<f64>, Vec<f64>);

/// Checks `f_grad`, `f_jvp` and `f_hvp` of a function of a slice against a closed-form gradient
/// and Hessian.
#[allow(clippy::too_many_arguments)]
fn verify_second(
    name: &str,
    x: &[f64],
    f: fn(&[f64]) -> f64,
    grad: fn(&[f64]) -> (f64, Vec<f64>),
    jvp: fn(&[f64], &[f64]) -> (f64, f64),
    hvp: Hvp,
    want_g: &[f64],
    want_h: &[&[f64]],
) {
    verify_slice(name, x, f, grad, jvp, Some(want_g.to_vec()));
    for i in 0..x.len() {
        let mut e = vec![0.0; x.len()];
        e[i] = 1.0;
        let (v, g, hv) = hvp(x, &e);
        assert_eq!(v.to_bits(), f(x).to_bits(), "{name}: f_hvp value");
        for j in 0..x.len() {
            assert_close(&format!("{name}: f_hvp ∂/∂x{j}"), g[j], want_g[j], REL);
            assert_close(&format!("{name}: ∂²/∂x{j}∂x{i}"), hv[j], want_h[j][i], REL);
        }
    }
}

#[test]
fn float_paths_on_values_from_unsuffixed_literals() {
    let (value, g) = linf_grad(&[1.0, -3.0, 2.0]);
    assert_eq!((value, g), (3.0, vec![0.0, -1.0, 0.0]));
    verify_second(
        "linf",
        &[1.0, -3.0, 2.0],
        linf,
        linf_grad,
        linf_jvp,
        linf_hvp,
        &[0.0, -1.0, 0.0],
        &[&[0.0; 3], &[0.0; 3], &[0.0; 3]],
    );

    for x in [1.5_f64, 0.4] {
        // m = x for x > 0: f = x².
        assert_eq!(running_grad(x), (x * x, 2.0 * x));
        assert_eq!(running_jvp(x, 1.0), (x * x, 2.0 * x));
        assert_eq!(running_hvp(x, 1.0), (x * x, 2.0 * x, 2.0));
    }
    // m = 0 for x < 0: f = 0.
    assert_eq!(running_grad(-1.5), (0.0, 0.0));
    assert_eq!(running_hvp(-1.5, 1.0), (0.0, 0.0, 0.0));

    let (a, b): (f64, f64) = (2.0, 1.0);
    let r = (a + b * b).sqrt();
    verify_second(
        "sqrt_chain",
        &[a, b],
        sqrt_chain,
        sqrt_chain_grad,
        sqrt_chain_jvp,
        sqrt_chain_hvp,
        &[0.5 / r, b / r],
        &[
            &[-0.25 / r.powi(3), -0.5 * b / r.powi(3)],
            &[-0.5 * b / r.powi(3), 1.0 / r - b * b / r.powi(3)],
        ],
    );

    let (a, b): (f64, f64) = (1.5, -0.5);
    verify_second(
        "powi_chain",
        &[a, b],
        powi_chain,
        powi_chain_grad,
        powi_chain_jvp,
        powi_chain_hvp,
        &[2.0 * a * b, a * a],
        &[&[2.0 * b, 2.0 * a], &[2.0 * a, 0.0]],
    );

    let (a, b): (f64, f64) = (3.0, -4.0);
    let n: f64 = 5.0;
    verify_second(
        "hypot_chain",
        &[a, b],
        hypot_chain,
        hypot_chain_grad,
        hypot_chain_jvp,
        hypot_chain_hvp,
        &[a / n, b / n],
        &[
            &[(1.0 - a * a / (n * n)) / n, -a * b / n.powi(3)],
            &[-a * b / n.powi(3), (1.0 - b * b / (n * n)) / n],
        ],
    );

    let (a, b): (f64, f64) = (2.5, 0.7);
    verify_second(
        "ln_chain",
        &[a, b],
        ln_chain,
        ln_chain_grad,
        ln_chain_jvp,
        ln_chain_hvp,
        &[1.0 / a, 1.0],
        &[&[-1.0 / (a * a), 0.0], &[0.0, 0.0]],
    );
    verify_second(
        "mul_add_chain",
        &[a, b],
        mul_add_chain,
        mul_add_chain_grad,
        mul_add_chain_jvp,
        mul_add_chain_hvp,
        &[b, a + 1.0],
        &[&[0.0, 1.0], &[1.0, 0.0]],
    );

    // x₀ is the larger: f = x₀² + |x|.
    let (a, b) = (3.0, -4.0);
    verify_second(
        "method_forms",
        &[a, b],
        method_forms,
        method_forms_grad,
        method_forms_jvp,
        method_forms_hvp,
        &[2.0 * a + a / n, b / n],
        &[
            &[2.0 + (1.0 - a * a / (n * n)) / n, -a * b / n.powi(3)],
            &[-a * b / n.powi(3), (1.0 - b * b / (n * n)) / n],
        ],
    );
}

/// Constants of a generic function through `FromPrimitive::from_f32`, whose literal is an `f32`:
/// `c x² + 2`, `c` the `f32` nearest to 0.1.
#[differentiate(reverse, forward, hessian, graph)]
fn from_f32_constants<T: Float + FromPrimitive>(x: T) -> T {
    let c = T::from_f32(0.1).unwrap();
    c * x * x + T::from_f32(2.0).expect("2 is an f32")
}

#[test]
fn generic_constants_through_from_f32_in_every_mode() {
    let c = f64::from(0.1_f32);
    let x = 1.5;
    let (v, g) = (c * x * x + 2.0, 2.0 * c * x);
    assert_eq!(from_f32_constants(x), v);
    assert_eq!(from_f32_constants_grad(x), (v, g));
    assert_eq!(from_f32_constants_jvp(x, 0.5), (v, 0.5 * g));
    assert_eq!(from_f32_constants_hessian(x), (v, g, [[2.0 * c]]));
    assert_eq!(from_f32_constants_hvp(x, 0.5), (v, g, c));
    let graph = from_f32_constants_graph(x);
    assert_eq!(graph.node("x").map(autodiff::GraphNode::adjoint), Some(g));
    // In f32 the constant is 0.1 exactly as `f32`, not 0.1 rounded from `f64` twice.
    let (v32, g32) = from_f32_constants_grad(1.5_f32);
    assert_eq!(v32, 0.1_f32 * 1.5 * 1.5 + 2.0);
    assert_eq!(g32, 2.0 * 0.1_f32 * 1.5);
}

/// Two `let`s of the same name, and a chain's running total beside the body's own `sum`.
#[differentiate(reverse, graph)]
fn shadowed_and_summed(y: f64, x: &[f64]) -> f64 {
    let t = y * 3.0;
    let t = t * 2.0;
    let sum = y + 1.0;
    let s: f64 = x.iter().map(|v| v * sum).sum();
    let acc = x.iter().fold(t, |a, v| a + v);
    s + acc
}

#[test]
fn graph_names_tell_shadowed_values_and_running_totals_apart() {
    let (y, x) = (0.5, [1.0, 2.0]);
    let g = shadowed_and_summed_graph(y, &x);
    // The last `t` is found by its name and shown primed; the first keeps its name.
    assert_eq!(g.node("t").map(autodiff::GraphNode::value), Some(3.0));
    assert_eq!(g.node("t′").map(autodiff::GraphNode::value), Some(3.0));
    let named = |name: &str| -> Vec<(f64, f64)> {
        g.nodes()
            .iter()
            .filter(|n| n.name() == Some(name))
            .map(|n| (n.value(), n.adjoint()))
            .collect()
    };
    // The first `t` is 3y, the second 2t: ∂/∂t′ = 1 (through the fold), ∂/∂t = 2.
    assert_eq!(named("t"), [(1.5, 2.0)], "{g}");
    assert_eq!(named("t′"), [(3.0, 1.0)], "{g}");
    // The body's `sum` is y + 1, not the chain's running total; ∂/∂sum = Σx.
    let sum = g.node("sum").expect("the body's sum");
    assert_eq!((sum.value(), sum.adjoint()), (1.5, 3.0));
    assert!(!g.to_string().contains("sum[i="), "{g}");
    let (v, dy, dx) = shadowed_and_summed_grad(y, &x);
    assert_eq!(v, shadowed_and_summed(y, &x));
    assert_eq!(dy, 6.0 + 3.0);
    assert_eq!(dx, vec![1.5 + 1.0, 1.5 + 1.0]);
    assert_eq!(g.node("y").map(autodiff::GraphNode::adjoint), Some(dy));
}

/// `sin_cos` in its method and path forms: `r sin a cos a + cos r`.
#[differentiate(reverse, forward, hessian, graph)]
fn sin_cos_forms(a: f64, r: f64) -> f64 {
    let (s, c) = a.sin_cos();
    let (_, cr) = f64::sin_cos(r);
    r * s * c + cr
}

/// The same generic, through `T::sin_cos` and the method.
#[differentiate(reverse, forward, hessian, graph)]
fn sin_cos_generic<T: Float>(a: T, r: T) -> T {
    let (s, c) = T::sin_cos(a);
    let (_, cr) = r.sin_cos();
    r * s * c + cr
}

/// A planar arm's tip as robotics code writes its rotations, a function with several outputs.
#[differentiate(reverse, forward)]
fn arm_tip_sin_cos(theta: [f32; 2], lengths: [f32; 2]) -> [f32; 2] {
    let mut angle = 0.0;
    let mut tip = [0.0; 2];
    for i in 0..2 {
        angle += theta[i];
        let (s, c) = angle.sin_cos();
        tip[0] += lengths[i] * c;
        tip[1] += lengths[i] * s;
    }
    tip
}

#[test]
fn sin_cos_in_every_mode() {
    let (a, r) = (0.7_f64, 1.3_f64);
    let v = a.sin() * a.cos() * r + r.cos();
    let g = [r * (2.0 * a).cos(), a.sin() * a.cos() - r.sin()];
    let h = [
        [-2.0 * r * (2.0 * a).sin(), (2.0 * a).cos()],
        [(2.0 * a).cos(), -r.cos()],
    ];
    let close = |got: f64, want: f64| assert!((got - want).abs() < 1e-14, "{got} {want}");
    let (val, ga, gr) = sin_cos_forms_grad(a, r);
    close(val, v);
    close(ga, g[0]);
    close(gr, g[1]);
    let (_, t) = sin_cos_forms_jvp(a, 0.5, r, -2.0);
    close(t, 0.5 * g[0] - 2.0 * g[1]);
    let (_, _, _, hess) = sin_cos_forms_hessian(a, r);
    for i in 0..2 {
        for j in 0..2 {
            close(hess[i][j], h[i][j]);
        }
    }
    let (_, _, _, ha, hr) = sin_cos_forms_hvp(a, 0.5, r, -2.0);
    close(ha, 0.5 * h[0][0] - 2.0 * h[0][1]);
    close(hr, 0.5 * h[1][0] - 2.0 * h[1][1]);
    let graph = sin_cos_forms_graph(a, r);
    close(graph.node("a").expect("a").adjoint(), g[0]);
    close(graph.node("c").expect("c").value(), a.cos());
    let (val, ga, gr) = sin_cos_generic_grad(a, r);
    close(val, v);
    close(ga, g[0]);
    close(gr, g[1]);
    let (_, _, _, hess) = sin_cos_generic_hessian(a, r);
    close(hess[0][0], h[0][0]);
    close(
        sin_cos_generic_graph(a, r).node("r").expect("r").adjoint(),
        g[1],
    );

    // The arm: ∂tip/∂θ₀ = (−y, x) and ∂tip/∂θ₁ the second link's part of it.
    let (theta, lengths) = ([0.4_f32, -0.9], [1.5_f32, 0.75]);
    let (t0, t1) = (f64::from(theta[0]), f64::from(theta[0] + theta[1]));
    let (l0, l1) = (f64::from(lengths[0]), f64::from(lengths[1]));
    let (x, y) = (l0 * t0.cos() + l1 * t1.cos(), l0 * t0.sin() + l1 * t1.sin());
    let (tip, jac) = arm_tip_sin_cos_jacobian(theta, lengths);
    assert!((f64::from(tip[0]) - x).abs() < 1e-6 && (f64::from(tip[1]) - y).abs() < 1e-6);
    let want = [
        [-y, -l1 * t1.sin(), t0.cos(), t1.cos()],
        [x, l1 * t1.cos(), t0.sin(), t1.sin()],
    ];
    for i in 0..2 {
        for j in 0..4 {
            assert!((f64::from(jac[i][j]) - want[i][j]).abs() < 1e-6, "{jac:?}");
        }
    }
}

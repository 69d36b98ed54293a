//! Shapes of signatures at the edges of the contract.
use autodiff::differentiate;

/// No float parameter: `f_grad` returns a one-element tuple, the value alone.
#[differentiate(reverse, forward)]
fn constant(n: i32) -> f64 {
    f64::from(n) * 0.5
}

/// A cast between precisions: the adjoint flows back to `f32`, the tangent on to `f64`.
#[differentiate(reverse, forward)]
#[allow(clippy::cast_lossless)] // `as` is part of what is tested
fn mixed(x: f32, y: f64) -> f64 {
    f64::from(x) * y + (x as f64).sin()
}

#[test]
fn no_active_parameter() {
    assert_eq!(constant_grad(3), (1.5,));
    assert_eq!(constant_jvp(3), (1.5, 0.0));
    assert_eq!(constant(3), 1.5);
}

#[test]
fn mixed_precision_in_both_modes() {
    let (x, y) = (0.5_f32, 3.0_f64);
    let xd = f64::from(x);
    let (value, dx, dy) = mixed_grad(x, y);
    assert_eq!(value, mixed(x, y));
    // Closed form: ∂/∂x = y + cos(x), carried back to f32; ∂/∂y = x.
    #[allow(clippy::cast_possible_truncation)]
    let expected_dx = (y + xd.cos()) as f32;
    assert_eq!(dx, expected_dx);
    assert_eq!(dy, xd);
    let (v, t) = mixed_jvp(x, 1.0, y, 0.0);
    assert_eq!(v, value);
    assert!((t - (y + xd.cos())).abs() < 1e-15);
    assert_eq!(mixed_jvp(x, 0.0, y, 1.0).1, xd);
}

/// A `mut` parameter reassigned in a branch and in a loop.
#[differentiate(reverse, forward)]
fn mut_param(mut x: f64, n: usize) -> f64 {
    if x > 1.0 {
        x = x.sqrt();
    }
    for _ in 0..n {
        x = x * x + 1.0;
    }
    x
}

/// A `mut` array parameter written to before it is read.
#[differentiate(reverse, forward)]
fn mut_array(mut x: [f64; 3], s: f64) -> f64 {
    x[0] *= s;
    x[1] = x[0] + x[2];
    x[0] * x[1] * x[2]
}

#[test]
fn mutable_parameters() {
    for &(x, n) in &[(0.5, 0), (0.5, 2), (4.0, 1), (1.5, 3)] {
        let (v, dx) = mut_param_grad(x, n);
        assert_eq!(v, mut_param(x, n));
        autodiff::check_gradient(|p| mut_param(p[0], n), &[x], &[dx]).unwrap();
        assert!((mut_param_jvp(x, 1.0, n).1 - dx).abs() <= 1e-12 * dx.abs());
    }
    let x = [1.5, -2.0, 0.5];
    let (v, dx, ds) = mut_array_grad(x, 2.0);
    assert_eq!(v, mut_array(x, 2.0));
    // With a = s x₀, b = a + x₂: f = a · b · x₂.
    let (a, b) = (2.0 * x[0], 2.0 * x[0] + x[2]);
    assert_eq!(dx, [2.0 * (b + a) * x[2], 0.0, a * x[2] + a * b]);
    assert_eq!(ds, x[0] * (b + a) * x[2]);
}

/// A local array filled with a computed value, and one declared in a branch whose length bounds a
/// loop there: the backward code of the branch uses the constant length, not the array.
#[differentiate(reverse, forward)]
fn local_arrays(x: f64) -> f64 {
    let h = [x * 3.0; 2];
    let mut s = h[0] + h[1] * x;
    if x > 0.0 {
        let g = [0.0; 3];
        for _ in 0..g.len() {
            s *= x;
        }
    }
    s
}

/// The value computed after a loop that ends with `break`.
#[differentiate]
#[allow(clippy::let_and_return)] // the `let` after the loop is what is tested
fn after_a_break(x: f64) -> f64 {
    let mut k = 0;
    loop {
        k += 1;
        if k > 1 {
            break;
        }
    }
    let y = x * 2.0;
    y
}

#[test]
fn local_arrays_and_loops_that_break() {
    for x in [0.5, -0.5, 1.5] {
        let (v, d) = local_arrays_grad(x);
        assert_eq!(v, local_arrays(x));
        autodiff::check_gradient(|p| local_arrays(p[0]), &[x], &[d]).unwrap();
        assert!((local_arrays_jvp(x, 1.0).1 - d).abs() <= 1e-12 * d.abs());
        assert_eq!(after_a_break_grad(x), (2.0 * x, 2.0));
    }
}

/// The Ackley function, from its published definition: with `a = 20`, `b = 0.2`, `c = 2π` and `d`
/// the dimension, `f(x) = -a exp(-b √(Σ xᵢ² / d)) - exp(Σ cos(c xᵢ) / d) + a + e`. Its global
/// minimum is at the origin, where optimisers end up, and where `√` has an infinite derivative.
#[differentiate(reverse, forward)]
#[allow(clippy::cast_precision_loss)] // a dimension is far below 2^52
#[allow(clippy::needless_range_loop)] // the macro takes `for` over ranges
fn ackley(x: &[f64]) -> f64 {
    let a = 20.0;
    let b = 0.2;
    let c = 2.0 * std::f64::consts::PI;
    let d = x.len() as f64;
    let mut sum_sq = 0.0;
    let mut sum_cos = 0.0;
    for i in 0..x.len() {
        sum_sq += x[i] * x[i];
        sum_cos += (c * x[i]).cos();
    }
    -a * (-b * (sum_sq / d).sqrt()).exp() - (sum_cos / d).exp() + a + std::f64::consts::E
}

/// `∂f/∂xᵢ = a b e^(-b r) xᵢ / (d r) + (c / d) e^(C / d) sin(c xᵢ)`, `r = √(Σ xⱼ² / d)`,
/// `C = Σ cos(c xⱼ)`; at the origin the first term is `0 · ∞ = 0`.
#[allow(clippy::cast_precision_loss)]
fn ackley_gradient(x: &[f64]) -> Vec<f64> {
    let (a, b, c) = (20.0, 0.2, 2.0 * std::f64::consts::PI);
    let d = x.len() as f64;
    let r = (x.iter().map(|v| v * v).sum::<f64>() / d).sqrt();
    let cos: f64 = x.iter().map(|v| (c * v).cos()).sum();
    x.iter()
        .map(|&v| {
            let radial = if v == 0.0 {
                0.0
            } else {
                a * b * (-b * r).exp() * v / (d * r)
            };
            radial + c / d * (cos / d).exp() * (c * v).sin()
        })
        .collect()
}

#[test]
#[allow(clippy::cast_precision_loss)] // small indices
fn ackley_at_its_minimum_and_elsewhere() {
    for d in [1, 2, 5] {
        let zero = vec![0.0; d];
        let (v, g) = ackley_grad(&zero);
        assert_eq!(v, ackley(&zero));
        assert!(v.abs() < 1e-15, "f(0) = {v}");
        assert_eq!(g, vec![0.0; d], "the gradient at the minimum");
        let direction: Vec<f64> = (0..d).map(|k| 1.0 - 0.7 * k as f64).collect();
        assert_eq!(ackley_jvp(&zero, &direction), (v, 0.0));
    }
    for x in [vec![0.3, -1.2], vec![0.0, 0.5, -2.5], vec![0.05]] {
        let (v, g) = ackley_grad(&x);
        assert_eq!(v, ackley(&x));
        let want = ackley_gradient(&x);
        for (k, (got, want)) in g.iter().zip(&want).enumerate() {
            assert!(
                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "∂f/∂x{k} at {x:?}: {got}, closed form {want}"
            );
        }
        autodiff::check_gradient(ackley, &x, &g).unwrap();
        let direction: Vec<f64> = (0..x.len()).map(|k| 0.5 + k as f64).collect();
        let (tv, t) = ackley_jvp(&x, &direction);
        assert_eq!(tv, v);
        let want: f64 = g.iter().zip(&direction).map(|(g, d)| g * d).sum();
        assert!(
            (t - want).abs() <= 1e-12 * (1.0 + want.abs()),
            "{t} vs {want}"
        );
    }
}

/// A method on a value built from literals alone: Rust cannot tell its float type, so the
/// expansion must name it (`f64::abs(..)`), as the user did.
#[differentiate(reverse, forward)]
fn literal_receivers(x: f64) -> f64 {
    x * f64::abs(if x > 0.0 { 2.0 } else { -1.0 })
        + x * f64::powi(if x > 1.0 { 3.0 } else { 0.5 }, 2)
        + x * f64::log10(-(if x < 0.0 { 10.0 } else { 100.0 }) * -1.0)
}

#[test]
fn methods_on_values_built_from_literals() {
    // Piecewise linear: the slope is the sum of the three factors on each side.
    for (x, slope) in [
        (2.0, 2.0 + 9.0 + 2.0),
        (0.5, 2.0 + 0.25 + 2.0),
        (-3.0, 1.0 + 0.25 + 1.0),
    ] {
        let (v, d) = literal_receivers_grad(x);
        assert_eq!(v, literal_receivers(x));
        assert!(
            (d - slope).abs() <= 1e-12 * slope,
            "at {x}: {d}, want {slope}"
        );
        assert_eq!(literal_receivers_jvp(x, 1.0), (v, d));
    }
}

/// `is_empty` in assertions and conditions, as `x.len() == 0`: f = n · w₀ Σ xᵢ², where n is 1
/// for a non-empty `x`.
#[differentiate(reverse, forward, hessian)]
fn guarded_energy(x: &[f64], w: [f64; 2]) -> f64 {
    assert!(!x.is_empty());
    debug_assert!(!w.is_empty(), "w is empty");
    let n = if x.is_empty() { 0.0 } else { 1.0 };
    let mut s = 0.0;
    for xi in x {
        s += xi * xi * w[0] * n;
    }
    s
}

#[test]
fn is_empty_is_a_constant_condition() {
    let x = [1.0, -2.0, 0.5];
    let w = [3.0, 4.0];
    let (value, dx, dw) = guarded_energy_grad(&x, w);
    let sq: f64 = x.iter().map(|v| v * v).sum();
    assert!((value - 3.0 * sq).abs() < 1e-12);
    for (d, xi) in dx.iter().zip(&x) {
        assert!((d - 6.0 * xi).abs() < 1e-12);
    }
    assert!((dw[0] - sq).abs() < 1e-12 && dw[1] == 0.0);
    let (_, t) = guarded_energy_jvp(&x, &[0.0, 1.0, 0.0], w, [1.0, 0.0]);
    assert!((t - (6.0 * x[1] + sq)).abs() < 1e-12);
    // H·v along x₀: ∂²f/∂x₀² = 2 w₀, ∂²f/∂w₀∂x₀ = 2 x₀.
    let (_, _, _, hx, hw) = guarded_energy_hvp(&x, &[1.0, 0.0, 0.0], w, [0.0, 0.0]);
    assert!((hx[0] - 6.0).abs() < 1e-12 && hx[1] == 0.0 && hx[2] == 0.0);
    assert!((hw[0] - 2.0 * x[0]).abs() < 1e-12 && hw[1] == 0.0);
    let caught = std::panic::catch_unwind(|| guarded_energy_grad(&[], w));
    assert!(caught.is_err(), "the assertion is kept");
}

/// Assertion messages that capture names inline, `{x}` and `{k:>3}`, beside positional ones.
#[differentiate(reverse, forward, hessian)]
#[allow(clippy::uninlined_format_args)] // the positional form is tested beside the inline one
fn checked_root(x: f64, k: usize) -> f64 {
    assert!(x >= 0.0, "x = {x}, k = {k:>3}, again {x:.2} {{braces}}");
    debug_assert!(k < 10, "k = {}", k);
    x.sqrt() * 2.0
}

#[test]
fn assertion_messages_capture_names() {
    assert_eq!(checked_root_grad(4.0, 2), (4.0, 0.5));
    assert_eq!(checked_root_jvp(4.0, 1.0, 2), (4.0, 0.5));
    let (_, _, h) = checked_root_hvp(4.0, 1.0, 2);
    assert!((h + 0.0625).abs() < 1e-15, "f'' = -x^(-3/2) / 2 at 4");
    let message = std::panic::catch_unwind(|| checked_root_grad(-1.0, 7))
        .expect_err("the assertion is kept")
        .downcast::<String>()
        .expect("a formatted message");
    assert_eq!(*message, "x = -1, k =   7, again -1.00 {braces}");
}

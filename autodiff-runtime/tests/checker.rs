//! Tests of the finite-difference gradient and the gradient checker against hand-derived
//! gradients.

use std::cell::{Cell, RefCell};

use approx::assert_relative_eq;
use autodiff_runtime::{Tolerance, check_gradient, check_gradient_with, gradient};

/// f(x, y) = eˣ sin y
fn exp_sin(v: &[f64]) -> f64 {
    v[0].exp() * v[1].sin()
}

/// ∇(eˣ sin y) = (eˣ sin y, eˣ cos y)
fn exp_sin_grad(x: f64, y: f64) -> [f64; 2] {
    [x.exp() * y.sin(), x.exp() * y.cos()]
}

const POINTS: [(f64, f64); 6] = [
    (0.0, 0.0),
    (0.5, 1.2),
    (-1.3, 2.9),
    (2.0, -0.4),
    (-2.5, 3.0),
    (3.0, 2.0),
];

#[test]
fn fd_gradient_of_exp_sin_is_accurate() {
    // The documented error bound: truncation h⁴ |∂ᵢ⁵f| / 30 plus rounding 1.5 δ / h, with
    // h = ε^(1/5) max(1, |vᵢ|), |∂ᵢ⁵f| <= eˣ and δ a few ulps of |f| <= eˣ. On these points
    // that is at most about 1e-11 eˣ, some twelve significant digits.
    for (x, y) in POINTS {
        let v = [x, y];
        let g = gradient(exp_sin, &v);
        let want = exp_sin_grad(x, y);
        for i in 0..2 {
            let h = f64::EPSILON.powf(0.2) * v[i].abs().max(1.0);
            let bound = x.exp() * (h.powi(4) / 30.0 + 1.5 * 4.0 * f64::EPSILON / h);
            assert!(bound <= 1e-11 * x.exp(), "the point is not well scaled");
            let err = (g[i] - want[i]).abs();
            assert!(
                err <= bound,
                "({x}, {y}) component {i}: error {err:e} > {bound:e}"
            );
        }
    }
}

#[test]
fn accepts_correct_gradient_of_exp_sin() {
    for (x, y) in POINTS
        .into_iter()
        .chain([(-7.5, 4.0), (3.0, 10.0), (12.0, -20.0)])
    {
        check_gradient(exp_sin, &[x, y], &exp_sin_grad(x, y)).unwrap();
    }
}

#[test]
fn fd_error_matches_the_truncation_term() {
    // fd - f' = -h⁴ f⁽⁵⁾ / 30 + O(h⁶). For sin at y = 100, h = (y + h₀) - y with
    // h₀ = ε^(1/5) · 100 ≈ 0.074 and sin⁽⁵⁾ = cos, so fd ≈ cos y · (1 - h⁴ / 30),
    // an error of about 1e-6 relative: the step grows with |y| but the curvature of sin
    // does not.
    let y = 100.0_f64;
    let h = (y + f64::EPSILON.powf(0.2) * y) - y;
    let fd = gradient(|v| v[0].sin(), &[y])[0];
    let predicted = -h.powi(4) / 30.0 * y.cos();
    assert_relative_eq!(fd - y.cos(), predicted, max_relative = 1e-3);
    assert_relative_eq!(h.powi(4) / 30.0, 1.0e-6, max_relative = 0.05);
}

#[test]
fn accepts_quintic_at_three() {
    // d/dx x⁵ = 5x⁴ = 405 at x = 3; the fifth derivative 120 is the truncation term itself:
    // h⁴ · 120 / 30 = 4h⁴ with h ≈ 3 · 7.4e-4, about 1e-10 absolute.
    let f = |v: &[f64]| v[0].powi(5);
    let g = gradient(f, &[3.0]);
    assert_relative_eq!(g[0], 405.0, max_relative = 1e-11);
    check_gradient(f, &[3.0], &[405.0]).unwrap();
    // At x = -2 the same formula gives 5 · 16 = 80.
    check_gradient(f, &[-2.0], &[80.0]).unwrap();
}

#[test]
fn accepts_correct_gradient_of_a_slice_function() {
    // f(w) = Σ (i + 1) wᵢ² + w₀ w₁ w₂, ∂f/∂wᵢ = 2 (i + 1) wᵢ + Π_{j≠i} wⱼ
    let f = |w: &[f64]| {
        let quad: f64 = w
            .iter()
            .zip(1..)
            .map(|(&wi, k)| f64::from(k) * wi * wi)
            .sum();
        quad + w[0] * w[1] * w[2]
    };
    let w = [0.7, -1.9, 12.5];
    let grad = [
        2.0 * w[0] + w[1] * w[2],
        4.0 * w[1] + w[0] * w[2],
        6.0 * w[2] + w[0] * w[1],
    ];
    check_gradient(f, &w, &grad).unwrap();
}

#[test]
fn accepts_at_large_coordinates() {
    // The step scales with |xᵢ|: x³ at x = 1e4 has derivative 3e8.
    let f = |v: &[f64]| v[0] * v[0] * v[0];
    check_gradient(f, &[1e4], &[3e8]).unwrap();
    check_gradient(f, &[-1e4], &[3e8]).unwrap();
}

#[test]
fn rejects_wrong_sign() {
    let (x, y) = (0.5, 1.2);
    let [gx, gy] = exp_sin_grad(x, y);
    let err = check_gradient(exp_sin, &[x, y], &[gx, -gy]).unwrap_err();
    assert!(!err.is_length_mismatch());
    assert_eq!(err.components.len(), 1);
    let c = err.components[0];
    assert_eq!(c.index, 1);
    assert_eq!(c.got, -gy);
    assert_relative_eq!(c.expected, gy, max_relative = 1e-10);
}

#[test]
fn rejects_missing_term_in_every_component() {
    // f(x, y) = x² y + sin y, ∇f = (2xy, x² + cos y). Give (xy, x²): both wrong.
    let f = |v: &[f64]| v[0] * v[0] * v[1] + v[1].sin();
    let (x, y) = (1.5_f64, -0.7_f64);
    let err = check_gradient(f, &[x, y], &[x * y, x * x]).unwrap_err();
    let indices: Vec<usize> = err.components.iter().map(|c| c.index).collect();
    assert_eq!(indices, [0, 1]);
    assert_relative_eq!(
        err.components[0].expected,
        2.0 * x * y,
        max_relative = 1e-10
    );
    assert_relative_eq!(
        err.components[1].expected,
        x * x + y.cos(),
        max_relative = 1e-10
    );
}

#[test]
fn rejects_small_relative_error() {
    // The default tolerance is rel = 1e-6: an error of 1e-4 relative must not pass.
    let f = |v: &[f64]| v[0].powi(5);
    assert!(check_gradient(f, &[3.0], &[405.0 * (1.0 + 1e-4)]).is_err());
    assert!(check_gradient(f, &[3.0], &[405.0 * (1.0 - 1e-5)]).is_err());
}

#[test]
fn length_mismatch_is_an_error_without_calling_f() {
    let calls = Cell::new(0_u32);
    let f = |v: &[f64]| {
        calls.set(calls.get() + 1);
        v[0] + v[1]
    };
    let short = check_gradient(f, &[1.0, 2.0], &[1.0]).unwrap_err();
    assert!(short.is_length_mismatch());
    assert_eq!((short.x_len, short.grad_len), (2, 1));
    assert!(short.components.is_empty());
    let long = check_gradient(f, &[1.0, 2.0], &[1.0, 1.0, 0.0]).unwrap_err();
    assert_eq!((long.x_len, long.grad_len), (2, 3));
    assert_eq!(calls.get(), 0);
    assert_eq!(
        short.to_string(),
        "gradient has length 1, but x has length 2 (one component per coordinate)"
    );
}

#[test]
fn empty_point_has_empty_gradient() {
    let f = |_: &[f64]| 1.0;
    assert!(gradient(f, &[]).is_empty());
    check_gradient(f, &[], &[]).unwrap();
}

#[test]
fn non_finite_values_fail() {
    let f = |v: &[f64]| v[0] * v[0];
    assert!(check_gradient(f, &[1.0], &[f64::NAN]).is_err());
    assert!(check_gradient(f, &[1.0], &[f64::INFINITY]).is_err());
    // sqrt at 0: the derivative is +inf, but the stencil leaves the domain (NaN).
    let err = check_gradient(|v| v[0].sqrt(), &[0.0], &[f64::INFINITY]).unwrap_err();
    assert!(err.components[0].expected.is_nan());
}

#[test]
fn kink_is_averaged_by_finite_differences() {
    // On a kink the symmetric stencil returns the average of the two one-sided slopes:
    // for relu at 0 that is (8h - 2h) / (12h) = 1/2, not the convention relu'(0) = 0,
    // which therefore cannot be confirmed numerically. For |x| at 0 the average is 0.
    let relu = |v: &[f64]| v[0].max(0.0);
    assert_relative_eq!(gradient(relu, &[0.0])[0], 0.5, max_relative = 1e-15);
    assert!(check_gradient(relu, &[0.0], &[0.0]).is_err());
    assert_eq!(gradient(|v| v[0].abs(), &[0.0])[0], 0.0);
}

#[test]
fn tolerance_rule_is_abs_plus_rel_times_max() {
    assert_eq!(
        Tolerance::default(),
        Tolerance {
            rel: 1e-6,
            abs: 1e-8
        }
    );
    // f linear: the finite difference is 2 up to rounding (about 1e-13).
    let f = |v: &[f64]| 2.0 * v[0] + 3.0;
    let abs_only = Tolerance {
        rel: 0.0,
        abs: 1e-3,
    };
    check_gradient_with(f, &[0.4], &[2.0009], abs_only).unwrap();
    assert!(check_gradient_with(f, &[0.4], &[2.0011], abs_only).is_err());
    // rel is scaled by max(|got|, |fd|): 1e-3 · 2.0019 ≈ 2.002e-3 allows 2.0019, not 2.0021.
    let rel_only = Tolerance {
        rel: 1e-3,
        abs: 0.0,
    };
    check_gradient_with(f, &[0.4], &[2.0019], rel_only).unwrap();
    assert!(check_gradient_with(f, &[0.4], &[2.0021], rel_only).is_err());
    // |got| larger than |fd| widens the bound: -2 vs 2 passes only when rel ≥ 2.
    check_gradient_with(f, &[0.4], &[-2.0], Tolerance { rel: 2.0, abs: 0.0 }).unwrap();
    assert!(check_gradient_with(f, &[0.4], &[-2.0], Tolerance { rel: 1.9, abs: 0.0 }).is_err());
}

#[test]
fn message_has_one_line_per_failing_component() {
    let f = |v: &[f64]| v[0] + 2.0 * v[1] + 3.0 * v[2];
    let err = check_gradient(f, &[0.0, 0.0, 0.0], &[5.0, 2.0, -3.0]).unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("gradient mismatch in 2 of 3 components"));
    assert!(
        lines[1].starts_with("  [0]: got 5.0, expected 1."),
        "{text}"
    );
    assert!(
        lines[2].starts_with("  [2]: got -3.0, expected 3."),
        "{text}"
    );
    // Debug (what `unwrap` prints) is the same readable text.
    assert_eq!(format!("{err:?}"), text);
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert_eq!(boxed.to_string(), text);
}

#[test]
fn stencil_uses_exact_symmetric_steps() {
    let points = RefCell::new(Vec::<Vec<f64>>::new());
    let f = |v: &[f64]| {
        points.borrow_mut().push(v.to_vec());
        v.iter().sum::<f64>()
    };
    let x = [0.0, 0.1, 3.0, -250.0, 1e6];
    let _ = gradient(f, &x);
    let points = points.into_inner();
    assert_eq!(points.len(), 4 * x.len());
    for (i, evals) in points.chunks(4).enumerate() {
        // Only coordinate i moves.
        for p in evals {
            for j in (0..x.len()).filter(|&j| j != i) {
                assert_eq!(p[j], x[j]);
            }
        }
        let [p1, m1, p2, m2] = [evals[0][i], evals[1][i], evals[2][i], evals[3][i]];
        let h = p1 - x[i];
        // h = ε^(1/5) · max(1, |xᵢ|), up to the rounding to a representable x + h.
        assert_relative_eq!(
            h,
            f64::EPSILON.powf(0.2) * x[i].abs().max(1.0),
            max_relative = 1e-12
        );
        // The four points sit exactly at x ± h and x ± 2h.
        assert_eq!(x[i] - m1, h, "coordinate {i}");
        assert_eq!(p2 - x[i], 2.0 * h, "coordinate {i}");
        assert_eq!(x[i] - m2, 2.0 * h, "coordinate {i}");
    }
}

//! Parameters bound by patterns: the generated functions name them, `_` as `_argK` with a zero
//! gradient entry, and a destructuring pattern as `argK`, destructured first in the body.

use approx::assert_relative_eq;
use autodiff::differentiate;

/// A time parameter a right-hand side leaves unused, as `_`.
#[differentiate(reverse, forward)]
fn decay(_: f64, y: f64, k: f64) -> f64 {
    -k * y
}

/// A point destructured in the signature.
#[differentiate(reverse, forward, hessian)]
fn area([w, h]: [f64; 2]) -> f64 {
    w * h
}

/// A reference to an array destructured, beside a named parameter.
#[differentiate]
fn tilt(&[a, b]: &[f64; 2], s: f64) -> f64 {
    a * s.sin() + b * s.cos()
}

#[test]
fn an_unused_parameter_has_a_zero_entry() {
    let (v, dt, dy, dk) = decay_grad(3.0, 2.0, 0.5);
    assert_eq!(v.to_bits(), decay(3.0, 2.0, 0.5).to_bits());
    assert_eq!((dt, dy, dk), (0.0, -0.5, -2.0));
    let (v, t) = decay_jvp(3.0, 1.0, 2.0, 0.25, 0.5, -1.0);
    assert_eq!(v, -1.0);
    // `d = -k dy - y dk`.
    assert_relative_eq!(t, -0.5 * 0.25 + 2.0, max_relative = 1e-15);
}

#[test]
fn destructured_parameters_are_differentiated() {
    let (v, g) = area_grad([3.0, 0.5]);
    assert_eq!(v, 1.5);
    assert_eq!(g, [0.5, 3.0]);
    let (_, t) = area_jvp([3.0, 0.5], [1.0, -1.0]);
    assert_relative_eq!(t, 0.5 - 3.0, max_relative = 1e-15);
    let (_, _, h) = area_hessian([3.0, 0.5]);
    assert_eq!(h, [[0.0, 1.0], [1.0, 0.0]]);
    let s = 0.3_f64;
    let (v, g, ds) = tilt_grad(&[2.0, -1.0], s);
    assert_relative_eq!(v, 2.0 * s.sin() - s.cos(), max_relative = 1e-15);
    assert_relative_eq!(g[0], s.sin(), max_relative = 1e-15);
    assert_relative_eq!(g[1], s.cos(), max_relative = 1e-15);
    assert_relative_eq!(ds, 2.0 * s.cos() + s.sin(), max_relative = 1e-15);
}

//! The derivatives documented for the activation functions, checked against finite
//! differences.

use approx::assert_relative_eq;
use autodiff_runtime::{check_gradient, gradient, relu, sigmoid, softplus};

const POINTS: [f64; 10] = [-40.0, -8.0, -2.5, -1.0, -0.3, 0.2, 1.0, 3.0, 9.0, 40.0];

#[test]
fn sigmoid_derivative_is_s_times_one_minus_s() {
    for x in POINTS.into_iter().chain([0.0]) {
        let s = sigmoid(x);
        check_gradient(|v| sigmoid(v[0]), &[x], &[s * (1.0 - s)]).unwrap();
    }
    // σ'(0) = 1/4 exactly; the numerical gradient agrees to ~ε^(4/5).
    assert_relative_eq!(
        gradient(|v| sigmoid(v[0]), &[0.0])[0],
        0.25,
        max_relative = 1e-11
    );
    // σ'(ln 3) = (3/4)(1/4) = 3/16.
    let ln3 = 3.0_f64.ln();
    assert_relative_eq!(
        gradient(|v| sigmoid(v[0]), &[ln3])[0],
        3.0 / 16.0,
        max_relative = 1e-11
    );
}

#[test]
fn relu_derivative_is_step_away_from_zero() {
    for x in POINTS {
        let want = if x > 0.0 { 1.0 } else { 0.0 };
        check_gradient(|v| relu(v[0]), &[x], &[want]).unwrap();
    }
}

#[test]
fn softplus_derivative_is_sigmoid() {
    for x in POINTS.into_iter().chain([0.0]) {
        check_gradient(|v| softplus(v[0]), &[x], &[sigmoid(x)]).unwrap();
    }
    // softplus'(0) = σ(0) = 1/2; softplus'(ln 3) = 3/4.
    assert_relative_eq!(
        gradient(|v| softplus(v[0]), &[0.0])[0],
        0.5,
        max_relative = 1e-11
    );
    let ln3 = 3.0_f64.ln();
    assert_relative_eq!(
        gradient(|v| softplus(v[0]), &[ln3])[0],
        0.75,
        max_relative = 1e-11
    );
}

#[test]
fn derivatives_in_the_far_tails() {
    // At ±800 every derivative is 0 or 1 to f64 precision, and finite: no NaN from overflow.
    for (x, ds, dr, dsp) in [(800.0, 0.0, 1.0, 1.0), (-800.0, 0.0, 0.0, 0.0)] {
        let s = sigmoid(x);
        assert_eq!(s * (1.0 - s), ds);
        assert_eq!(gradient(|v| sigmoid(v[0]), &[x])[0], ds);
        assert_eq!(gradient(|v| relu(v[0]), &[x])[0], dr);
        assert_relative_eq!(
            gradient(|v| softplus(v[0]), &[x])[0],
            dsp,
            max_relative = 1e-12
        );
        assert_eq!(sigmoid(x), dsp);
    }
}

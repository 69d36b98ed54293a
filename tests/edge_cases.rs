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

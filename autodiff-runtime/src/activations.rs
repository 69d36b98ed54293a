//! Activation functions with known derivatives: [`sigmoid`], [`relu`], [`softplus`].
//!
//! Each function is generic over [`Float`] (so it accepts `f32` and `f64`), is
//! numerically stable over the whole real line, and documents the derivative that
//! `#[differentiate]` uses for it.

use crate::Float;

/// The logistic sigmoid, `σ(x) = 1 / (1 + e^(-x))`.
///
/// **Derivative:** `σ'(x) = σ(x) (1 - σ(x))`.
///
/// **Stability:** evaluated in two branches on the sign of `x`, so that `e^t` is only
/// ever computed for `t <= 0` and cannot overflow:
/// `1 / (1 + e^(-x))` for `x >= 0`, and `e^x / (1 + e^x)` for `x < 0`.
/// The result lies in `[0, 1]` for every non-`NaN` input (it rounds to exactly `0` or `1`
/// far in the tails, e.g. at `±800`) and is never `NaN` unless `x` is.
///
/// # Examples
///
/// ```
/// use autodiff_runtime::sigmoid;
///
/// assert_eq!(sigmoid(0.0_f64), 0.5);
/// // σ(ln 3) = 3 / (1 + 3)
/// assert!((sigmoid(3.0_f64.ln()) - 0.75).abs() < 1e-15);
/// // No overflow in the tails, in either precision.
/// assert_eq!(sigmoid(800.0_f64), 1.0);
/// assert_eq!(sigmoid(-800.0_f32), 0.0);
/// ```
#[inline]
#[must_use]
pub fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// The rectified linear unit, `relu(x) = max(x, 0)`: `x` if `x > 0`, else `0`.
///
/// **Derivative:** `relu'(x) = 1` if `x > 0`, else `0`. At the kink the convention is
/// `relu'(0) = 0`, the derivative of the branch taken at `x = 0`.
///
/// A `NaN` input gives `NaN`, and `-0.0` gives `+0.0`.
///
/// # Examples
///
/// ```
/// use autodiff_runtime::relu;
///
/// assert_eq!(relu(2.5_f64), 2.5);
/// assert_eq!(relu(-2.5_f64), 0.0);
/// assert_eq!(relu(0.0_f32), 0.0);
/// ```
#[inline]
#[must_use]
pub fn relu<T: Float>(x: T) -> T {
    // Written as `x <= 0` rather than `x > 0` so that a NaN input propagates.
    if x <= T::ZERO { T::ZERO } else { x }
}

/// The softplus function, `softplus(x) = ln(1 + e^x)`, a smooth approximation of [`relu`].
///
/// **Derivative:** `softplus'(x) = σ(x)`, the [`sigmoid`].
///
/// **Stability:** evaluated as `max(x, 0) + ln_1p(e^(-|x|))`, which equals `ln(1 + e^x)`
/// exactly in real arithmetic. The exponential is only taken of a non-positive number, so
/// it cannot overflow (the naive form gives `inf` from `x ≈ 710` in `f64`), and `ln_1p`
/// keeps full relative accuracy in the left tail, where the value is about `e^x`.
///
/// # Examples
///
/// ```
/// use autodiff_runtime::softplus;
///
/// // softplus(0) = ln 2
/// assert!((softplus(0.0_f64) - 2.0_f64.ln()).abs() < 1e-15);
/// // Linear in the right tail, vanishing in the left tail, never infinite.
/// assert_eq!(softplus(800.0_f64), 800.0);
/// assert_eq!(softplus(-800.0_f64), 0.0);
/// ```
#[inline]
#[must_use]
pub fn softplus<T: Float>(x: T) -> T {
    x.max(T::ZERO) + (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::{relu, sigmoid, softplus};
    use approx::assert_relative_eq;

    // e^-40 = 4.24835425529158899533e-18, rounded to f64. Both σ(-40) = e^-40 / (1 + e^-40)
    // and softplus(-40) = ln(1 + e^-40) = e^-40 - e^-80 / 2 + ... differ from e^-40 by a
    // relative e^-40 ≈ 4e-18, far below f64 resolution, so this one constant is the exact
    // f64 value of all three.
    const E_M40: f64 = 4.248_354_255_291_589e-18;

    #[test]
    fn sigmoid_closed_forms() {
        let ln3 = 3.0_f64.ln();
        assert_eq!(sigmoid(0.0_f64), 0.5);
        assert_eq!(sigmoid(-0.0_f64), 0.5);
        // e^(ln 3) = 3, so σ(ln 3) = 3/4 and σ(-ln 3) = 1/4.
        assert_relative_eq!(sigmoid(ln3), 0.75, max_relative = 4e-16);
        assert_relative_eq!(sigmoid(-ln3), 0.25, max_relative = 4e-16);
        // σ(x) + σ(-x) = 1.
        for x in [0.1, 1.0, 2.5, 7.0, 20.0] {
            assert_relative_eq!(sigmoid(x) + sigmoid(-x), 1.0, max_relative = 4e-16);
        }
        // σ(2) = 1 / (1 + e^-2) = 0.88079707797788244406...
        assert_relative_eq!(sigmoid(2.0), 0.880_797_077_977_882_4, max_relative = 4e-16);
    }

    #[test]
    fn sigmoid_tails_f64() {
        // 1 - σ(40) = e^-40 / (1 + e^-40) ≈ 4e-18, far below half an ulp of 1.
        assert_eq!(sigmoid(40.0_f64), 1.0);
        assert_relative_eq!(sigmoid(-40.0_f64), E_M40, max_relative = 4e-16);
        // e^-800 ≈ 3.6e-348 underflows: the limits 1 and 0, never NaN.
        assert_eq!(sigmoid(800.0_f64), 1.0);
        assert_eq!(sigmoid(-800.0_f64), 0.0);
        assert_eq!(sigmoid(f64::INFINITY), 1.0);
        assert_eq!(sigmoid(f64::NEG_INFINITY), 0.0);
        assert!(sigmoid(f64::NAN).is_nan());
    }

    #[test]
    fn sigmoid_f32() {
        assert_eq!(sigmoid(0.0_f32), 0.5);
        assert_relative_eq!(sigmoid(3.0_f32.ln()), 0.75, max_relative = 4e-7);
        assert_eq!(sigmoid(40.0_f32), 1.0);
        // e^-40 ≈ 4.2e-18 is a normal f32.
        #[allow(clippy::cast_possible_truncation)]
        let expected = E_M40 as f32;
        assert_relative_eq!(sigmoid(-40.0_f32), expected, max_relative = 4e-6);
        assert_eq!(sigmoid(800.0_f32), 1.0);
        assert_eq!(sigmoid(-800.0_f32), 0.0);
        // e^90 overflows f32 (max ≈ 3.4e38): the naive e^x / (1 + e^x) would be inf / inf.
        assert_eq!(sigmoid(90.0_f32), 1.0);
    }

    #[test]
    fn relu_closed_forms() {
        for x in [0.5, 3.0, 40.0, 800.0, 1e300] {
            assert_eq!(relu(x), x);
            assert_eq!(relu(-x), 0.0);
        }
        assert_eq!(relu(0.0_f64), 0.0);
        let r = relu(-0.0_f64);
        assert!(r == 0.0 && r.is_sign_positive());
        assert!(relu(f64::NAN).is_nan());
        assert_eq!(relu(2.5_f32), 2.5);
        assert_eq!(relu(-2.5_f32), 0.0);
        assert_eq!(relu(-800.0_f32), 0.0);
    }

    #[test]
    fn softplus_closed_forms() {
        let ln3 = 3.0_f64.ln();
        // ln(1 + e^0) = ln 2; ln(1 + 3) = ln 4; ln(1 + 1/3) = ln(4/3).
        assert_relative_eq!(softplus(0.0_f64), 2.0_f64.ln(), max_relative = 4e-16);
        assert_relative_eq!(softplus(ln3), 4.0_f64.ln(), max_relative = 4e-16);
        assert_relative_eq!(softplus(-ln3), (4.0_f64 / 3.0).ln(), max_relative = 1e-15);
        // softplus(x) - softplus(-x) = x.
        for x in [0.1, 1.0, 2.5, 7.0, 20.0] {
            assert_relative_eq!(softplus(x) - softplus(-x), x, max_relative = 1e-14);
        }
        // ln(1 + e^2) = 2.12692801104297249644...
        assert_relative_eq!(softplus(2.0), 2.126_928_011_042_972_7, max_relative = 4e-16);
    }

    #[test]
    fn softplus_tails_f64() {
        // 40 + ln(1 + e^-40) rounds to 40: the correction is far below an ulp of 40.
        assert_eq!(softplus(40.0_f64), 40.0);
        // Full relative accuracy in the left tail, where naive ln(1 + e^x) would give 0.
        assert_relative_eq!(softplus(-40.0_f64), E_M40, max_relative = 4e-16);
        // Naive ln(1 + e^800) is inf.
        assert_eq!(softplus(800.0_f64), 800.0);
        assert_eq!(softplus(-800.0_f64), 0.0);
        assert_eq!(softplus(f64::INFINITY), f64::INFINITY);
        assert_eq!(softplus(f64::NEG_INFINITY), 0.0);
        assert!(softplus(f64::NAN).is_nan());
    }

    #[test]
    fn softplus_f32() {
        assert_relative_eq!(softplus(0.0_f32), 2.0_f32.ln(), max_relative = 4e-7);
        assert_eq!(softplus(40.0_f32), 40.0);
        #[allow(clippy::cast_possible_truncation)]
        let expected = E_M40 as f32;
        assert_relative_eq!(softplus(-40.0_f32), expected, max_relative = 4e-6);
        // e^89 overflows f32: the naive form would be inf.
        assert_eq!(softplus(800.0_f32), 800.0);
        assert_eq!(softplus(90.0_f32), 90.0);
        assert_eq!(softplus(-800.0_f32), 0.0);
    }
}

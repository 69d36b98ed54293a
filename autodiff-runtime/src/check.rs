//! Finite-difference gradient checking, for testing gradients produced by `#[differentiate]`
//! or written by hand.
//!
//! [`gradient`] computes a numerical gradient of a function of a slice of `f64`;
//! [`check_gradient`] and [`check_gradient_with`] compare an analytic gradient against it,
//! component by component, and return a [`GradientMismatch`] that lists every component
//! out of [`Tolerance`].
//!
//! # Example
//!
//! In a test of your own code, wrap the function in a closure over a slice and pass the
//! gradient to check (here written by hand; with the macro it is the tail of the tuple
//! returned by `f_grad`):
//!
//! ```
//! /// f(x, y) = x² y + sin y
//! fn f(x: f64, y: f64) -> f64 {
//!     x * x * y + y.sin()
//! }
//!
//! /// Value and gradient (∂f/∂x, ∂f/∂y) = (2xy, x² + cos y).
//! fn f_grad(x: f64, y: f64) -> (f64, f64, f64) {
//!     (f(x, y), 2.0 * x * y, x * x + y.cos())
//! }
//!
//! for (x, y) in [(1.5, -0.7), (0.0, 2.0), (-3.0, 10.0)] {
//!     let (_, dx, dy) = f_grad(x, y);
//!     autodiff_runtime::check_gradient(|v| f(v[0], v[1]), &[x, y], &[dx, dy]).unwrap();
//! }
//!
//! // A wrong derivative (the cos y term forgotten) is reported, not accepted.
//! let err = autodiff_runtime::check_gradient(|v| f(v[0], v[1]), &[1.5, -0.7], &[-2.1, 2.25])
//!     .unwrap_err();
//! assert_eq!(err.components.len(), 1);
//! assert_eq!(err.components[0].index, 1);
//! ```
//!
//! On failure, `unwrap` prints one line per failing component:
//!
//! ```text
//! gradient mismatch in 1 of 2 components (passes when |got - expected| <= 1e-8 + 1e-6 * max(|got|, |expected|)):
//!   [1]: got 2.25, expected 3.0148421872843016 (finite differences); |difference| 0.7648421872843016 > allowed 3.0248421872843016e-6
//! ```
//!
//! # The numerical gradient
//!
//! Component `i` is the fourth-order central difference (Richardson extrapolation of two
//! central differences) along coordinate `i`,
//!
//! ```text
//! fd_i = (8 (f(x + h eᵢ) - f(x - h eᵢ)) - (f(x + 2h eᵢ) - f(x - 2h eᵢ))) / (12 h)
//! ```
//!
//! which costs four evaluations of `f` per coordinate. Its error has two parts:
//!
//! - **truncation**: `h⁴ |∂ᵢ⁵f| / 30` (the `h²` terms of the two central differences cancel);
//! - **rounding**: if each evaluation of `f` is off by at most `δ`, the stencil weights
//!   `8 + 8 + 1 + 1 = 18` give at most `18 δ / (12 h) = 1.5 δ / h`.
//!
//! The step balances the two: `h = ε^(1/5) · max(1, |xᵢ|) ≈ 7.4e-4 · max(1, |xᵢ|)`, with
//! `ε = f64::EPSILON`, relative to the coordinate's magnitude so that the same relative
//! perturbation is used at every scale. It is then rounded to `h = (xᵢ + h) - xᵢ`, which
//! removes the representation error of the step: when `|xᵢ|` and `|xᵢ| + 2h` lie in the same
//! binade (between the same consecutive powers of two), the four points `xᵢ ± h`,
//! `xᵢ ± 2h` are exactly representable and the stencil has exactly the step the formula
//! divides by. Otherwise a point may be off by about one ulp of `xᵢ`, a relative error of
//! at most about `ε / 7.4e-4 ≈ 3e-13` in the step, below the scheme's own error. With
//! this step both error terms are of order `ε^(4/5) ≈ 3e-13` times the scale of the
//! function: on a well-scaled function the numerical gradient is good to about twelve
//! significant digits.
//!
//! The checker cannot see kinks: at a point where `f` is not differentiable (`relu` or
//! `abs` at `0`, a branch boundary) or within `2h` of one, the finite difference mixes both
//! sides and will not match the one-sided derivative that `#[differentiate]` produces.
//! Check at points away from kinks.
//!
//! For a coordinate with `|xᵢ| < 1` the step is the absolute `7.4e-4`. A function that
//! varies on a much smaller scale there (`ln xᵢ` or `1 / xᵢ` with `xᵢ` close to zero)
//! is poorly resolved by that step, and the stencil may even leave its domain; rescale
//! the variable or loosen the [`Tolerance`].

use core::fmt;

/// How close an analytic gradient component must be to the finite-difference one.
///
/// Component `i` passes when both values are finite and
///
/// ```text
/// |grad_i - fd_i| <= abs + rel * max(|grad_i|, |fd_i|)
/// ```
///
/// A `NaN` or infinite value on either side always fails: a finite difference cannot
/// confirm an infinite or undefined derivative.
///
/// # Defaults: `rel = 1e-6`, `abs = 1e-8`
///
/// The finite differences of [`gradient`] are accurate to about `ε^(4/5) ≈ 3e-13` relative
/// on a well-scaled function (see the [module documentation](crate::check#the-numerical-gradient)
/// for the derivation). The defaults are deliberately much looser than that, because the
/// error grows with
///
/// - curvature: the truncation term `h⁴ |∂ᵢ⁵f| / 30` becomes large for steep functions,
///   e.g. a relative `(k h)⁴ / 30` for `exp(k x)`;
/// - large coordinates: the step grows as `max(1, |xᵢ|)`, so for a function whose
///   curvature does not grow with it the truncation term grows as `max(1, |xᵢ|)⁴`; for
///   `sin y` at `y = 100` it is a relative `(7.4e-4 · 100)⁴ / 30 ≈ 1e-6`, right at the
///   default;
/// - large values: the rounding term `1.5 δ / h` grows with `|f|` when the gradient is
///   small compared with `|f| / max(1, |xᵢ|)` (cancellation), and with functions
///   evaluated less accurately than to a few ulps (long sums, loops).
///
/// `rel = 1e-6` leaves more than six orders of magnitude of room for these effects on top
/// of the `3e-13` of the scheme, while a genuine error in a derivative (a missing term,
/// a wrong sign or factor) usually changes a component by a relative amount of order one,
/// still six orders above the threshold. `abs = 1e-8` is for components whose true value
/// is zero or tiny, where the relative term vanishes and only the rounding error of about
/// `1.5 · ε^(4/5) · |f| / max(1, |xᵢ|)` remains; it covers functions with values up to
/// about `10⁴`. These are margins chosen by that reasoning, not proven bounds: a function
/// with large values, very steep high-order derivatives or noisy evaluation needs a looser
/// tolerance, and conversely the defaults cannot detect an error smaller than `1e-6`
/// relative.
///
/// # Examples
///
/// ```
/// use autodiff_runtime::{check_gradient, check_gradient_with, Tolerance};
///
/// // f(x) = 1e8 + x²: the offset costs the finite difference about 1e-5 of absolute
/// // accuracy (1.5 · ε^(4/5) · 1e8 ≈ 4.5e-5 at most), more than the default allows
/// // for the small derivative 2x = 0.6.
/// let f = |v: &[f64]| 1e8 + v[0] * v[0];
/// assert!(check_gradient(f, &[0.3], &[0.6]).is_err());
/// let tol = Tolerance { abs: 1e-4, ..Tolerance::default() };
/// check_gradient_with(f, &[0.3], &[0.6], tol).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Relative tolerance, scaled by the larger magnitude of the two values compared.
    pub rel: f64,
    /// Absolute tolerance, for components whose value is zero or close to it.
    pub abs: f64,
}

impl Default for Tolerance {
    /// `rel = 1e-6`, `abs = 1e-8`; see the [type documentation](Tolerance) for why.
    fn default() -> Self {
        Self {
            rel: 1e-6,
            abs: 1e-8,
        }
    }
}

impl Tolerance {
    /// The largest difference allowed between `got` and `expected`.
    fn allowed(self, got: f64, expected: f64) -> f64 {
        self.abs + self.rel * got.abs().max(expected.abs())
    }

    /// Whether `got` passes against `expected` (both finite and within [`Self::allowed`]).
    fn accepts(self, got: f64, expected: f64) -> bool {
        got.is_finite()
            && expected.is_finite()
            && (got - expected).abs() <= self.allowed(got, expected)
    }
}

/// One gradient component that failed the check.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ComponentMismatch {
    /// The index of the component (the coordinate of `x`).
    pub index: usize,
    /// The value from finite differences, computed by [`gradient`].
    pub expected: f64,
    /// The value of the gradient under test.
    pub got: f64,
}

/// The error returned by [`check_gradient`] and [`check_gradient_with`].
///
/// Either the gradient has the wrong length (`grad_len != x_len`, and `components` is
/// empty), or it has the right length and `components` lists every component that is out
/// of tolerance, in increasing index order.
///
/// Both [`Display`](fmt::Display) and [`Debug`](fmt::Debug) print a header line followed
/// by one line per failing component, so that the message is readable when a test
/// unwraps the result or returns it as an error.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct GradientMismatch {
    /// The number of coordinates of the point `x`.
    pub x_len: usize,
    /// The number of components of the gradient under test.
    pub grad_len: usize,
    /// The failing components; empty when the lengths differ.
    pub components: Vec<ComponentMismatch>,
    /// The tolerance the check used.
    pub tolerance: Tolerance,
}

impl GradientMismatch {
    /// Whether the error is a length mismatch rather than a value mismatch.
    #[must_use]
    pub fn is_length_mismatch(&self) -> bool {
        self.x_len != self.grad_len
    }
}

impl fmt::Display for GradientMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_length_mismatch() {
            return write!(
                f,
                "gradient has length {}, but x has length {} (one component per coordinate)",
                self.grad_len, self.x_len
            );
        }
        let Tolerance { rel, abs } = self.tolerance;
        write!(
            f,
            "gradient mismatch in {} of {} components \
             (passes when |got - expected| <= {abs:?} + {rel:?} * max(|got|, |expected|)):",
            self.components.len(),
            self.x_len,
        )?;
        for c in &self.components {
            write!(
                f,
                "\n  [{}]: got {:?}, expected {:?} (finite differences); |difference| {:?} > allowed {:?}",
                c.index,
                c.got,
                c.expected,
                (c.got - c.expected).abs(),
                self.tolerance.allowed(c.got, c.expected),
            )?;
        }
        Ok(())
    }
}

impl fmt::Debug for GradientMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for GradientMismatch {}

/// The step for coordinate value `xi`: `ε^(1/5) · max(1, |xi|)`, rounded so that
/// `xi + h` is exactly representable.
fn step(xi: f64) -> f64 {
    let h = f64::EPSILON.powf(0.2) * xi.abs().max(1.0);
    (xi + h) - xi
}

/// The numerical gradient of `f` at `x`, by fourth-order central differences.
///
/// Component `i` is `(8 (f(x + h eᵢ) - f(x - h eᵢ)) - (f(x + 2h eᵢ) - f(x - 2h eᵢ))) / (12 h)`
/// with the step `h = ε^(1/5) · max(1, |xᵢ|)` rounded so that `xᵢ + h` is exactly
/// representable. `f` is called `4 · x.len()` times, each time with a slice of the same
/// length as `x` that differs from it in one coordinate. The result has about twelve
/// correct significant digits on a well-scaled smooth function; see the
/// [module documentation](crate::check#the-numerical-gradient) for the error analysis.
///
/// A coordinate at which `f` is not finite on the stencil gives a `NaN` or infinite
/// component.
///
/// # Examples
///
/// ```
/// // f(x, y) = x³ y, ∇f = (3x² y, x³)
/// let g = autodiff_runtime::gradient(|v| v[0].powi(3) * v[1], &[2.0, 5.0]);
/// assert!((g[0] - 60.0).abs() < 1e-9);
/// assert!((g[1] - 8.0).abs() < 1e-9);
/// ```
#[must_use]
pub fn gradient<F: Fn(&[f64]) -> f64>(f: F, x: &[f64]) -> Vec<f64> {
    let mut point = x.to_vec();
    let mut grad = Vec::with_capacity(x.len());
    for (i, &xi) in x.iter().enumerate() {
        let h = step(xi);
        let mut f_at = |t: f64| {
            point[i] = t;
            f(&point)
        };
        let d1 = f_at(xi + h) - f_at(xi - h);
        let d2 = f_at(xi + 2.0 * h) - f_at(xi - 2.0 * h);
        point[i] = xi;
        grad.push((8.0 * d1 - d2) / (12.0 * h));
    }
    grad
}

/// Checks `grad` against the finite-difference [`gradient`] of `f` at `x`, with the
/// default [`Tolerance`] (`rel = 1e-6`, `abs = 1e-8`).
///
/// # Errors
///
/// Returns a [`GradientMismatch`] if `grad.len() != x.len()` (without calling `f`), or
/// listing every component `i` that fails
/// `|grad_i - fd_i| <= abs + rel * max(|grad_i|, |fd_i|)` or is not finite.
///
/// # Examples
///
/// ```
/// // f(x, y) = eˣ sin y, ∇f = (eˣ sin y, eˣ cos y)
/// let f = |v: &[f64]| v[0].exp() * v[1].sin();
/// let (x, y) = (0.5_f64, 1.2_f64);
/// let grad = [x.exp() * y.sin(), x.exp() * y.cos()];
/// assert!(autodiff_runtime::check_gradient(f, &[x, y], &grad).is_ok());
/// assert!(autodiff_runtime::check_gradient(f, &[x, y], &[grad[0], -grad[1]]).is_err());
/// ```
pub fn check_gradient<F: Fn(&[f64]) -> f64>(
    f: F,
    x: &[f64],
    grad: &[f64],
) -> Result<(), GradientMismatch> {
    check_gradient_with(f, x, grad, Tolerance::default())
}

/// Checks `grad` against the finite-difference [`gradient`] of `f` at `x`, with the
/// tolerance `tol`.
///
/// # Errors
///
/// Returns a [`GradientMismatch`] if `grad.len() != x.len()` (without calling `f`), or
/// listing every component `i` that fails
/// `|grad_i - fd_i| <= tol.abs + tol.rel * max(|grad_i|, |fd_i|)` or is not finite.
///
/// # Examples
///
/// ```
/// use autodiff_runtime::{check_gradient, check_gradient_with, Tolerance};
///
/// // f(x) = e^(200 x) is steep: the truncation error h⁴ |f⁽⁵⁾| / 30 is a relative
/// // (200 h)⁴ / 30 ≈ 1.6e-5 of f'(x) = 200 e^(200 x), above the default rel = 1e-6.
/// let f = |v: &[f64]| (200.0 * v[0]).exp();
/// let x = 0.1_f64;
/// let df = 200.0 * (200.0 * x).exp();
/// assert!(check_gradient(f, &[x], &[df]).is_err());
/// let tol = Tolerance { rel: 1e-4, abs: 1e-8 };
/// check_gradient_with(f, &[x], &[df], tol).unwrap();
/// ```
pub fn check_gradient_with<F: Fn(&[f64]) -> f64>(
    f: F,
    x: &[f64],
    grad: &[f64],
    tol: Tolerance,
) -> Result<(), GradientMismatch> {
    let mismatch = |components| GradientMismatch {
        x_len: x.len(),
        grad_len: grad.len(),
        components,
        tolerance: tol,
    };
    if grad.len() != x.len() {
        return Err(mismatch(Vec::new()));
    }
    let components: Vec<ComponentMismatch> = gradient(f, x)
        .into_iter()
        .zip(grad)
        .enumerate()
        .filter(|&(_, (expected, &got))| !tol.accepts(got, expected))
        .map(|(index, (expected, &got))| ComponentMismatch {
            index,
            expected,
            got,
        })
        .collect();
    if components.is_empty() {
        Ok(())
    } else {
        Err(mismatch(components))
    }
}
